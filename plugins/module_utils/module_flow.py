# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every netlink module runs in: read, plan, apply (unless check mode), report.

Arguments are validated by the caller before this runs, so a bad task never opens a socket.
The diff's ``after`` is a re-read of the kernel after a real run and a simulation of the plan
in check mode; both go through the module's own report function.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.nslab.net.plugins.module_utils.link_model import simulate
from ansible_collections.nslab.net.plugins.module_utils.netlink_adapter import (
    PYROUTE2_IMPORT_ERROR, Netlink, StepFailed)


def converge(module, result_key, namespaces, plan, report, nsid_keys=(), links_only=False):
    """Run the module against ``namespaces`` (names; None is the host's) and exit it.

    ``plan(views, nsids)`` returns ``(steps, problems)``; ``report(views)`` the managed
    objects as a list of dicts. ``links_only`` reads links but no addresses or routes.
    """
    if PYROUTE2_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)
    namespaces = list(namespaces)
    with Netlink() as netlink:
        views = netlink.read_views(namespaces, links_only)
        steps, problems = plan(views, netlink.nsids(nsid_keys))
        if problems:
            module.fail_json(msg='; '.join(problems), problems=problems, changed=False)
        commands = [step.as_command() for step in steps]
        before = report(views)
        if module.check_mode or not steps:
            after = report(simulate(views, steps))
        else:
            try:
                netlink.apply(steps)
            except StepFailed as exc:
                module.fail_json(msg=str(exc), changed=bool(exc.done), commands=commands,
                                 applied=[step.as_command() for step in exc.done])
            after = report(netlink.read_views(namespaces, links_only))
    result = {
        'changed': bool(steps),
        'commands': commands,
        'diff': {'before': {result_key: before}, 'after': {result_key: after}},
        result_key: after,
    }
    module.exit_json(**result)
