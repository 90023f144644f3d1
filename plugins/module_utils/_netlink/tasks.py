# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every netlink module runs in: read, plan, apply (unless check mode), report.

Each module's work is a function from validated parameters to its result (``netns_task``,
``bridge_task``, ``veth_task``), so that the module itself and nslab.net.lab_network, which
runs them all in one process, share it. Failures raise :class:`TaskFailed`; :func:`finish`
turns the outcome into the module's exit.

Arguments are validated before any of this runs, so a bad task never opens a socket. The
diff's ``after`` is a re-read of the kernel after a real run and a simulation of the plan in
check mode; both go through the module's own report function.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import (
    BRIDGE_KEYS, parse_bridges, plan_bridges, report_bridges)
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import simulate
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import (
    PYROUTE2_IMPORT_ERROR, Netlink, StepFailed)
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import (
    NetnsEntry, parse_netns, plan_netns, report_netns)
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import InvalidInput, task_items
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import (
    PAIR_KEYS, nsid_keys, parse_pairs, plan_pairs, report_pairs)


class TaskFailed(Exception):
    """A task cannot be done or failed part-way; ``fields`` go into the failed result."""

    def __init__(self, msg, **fields):
        self.msg = msg
        self.fields = fields
        super(TaskFailed, self).__init__(msg)


def invalid(exc):
    """The TaskFailed of arguments that failed validation."""
    return TaskFailed(str(exc), problems=exc.problems)


def require_pyroute2():
    if PYROUTE2_IMPORT_ERROR:
        raise TaskFailed(missing_required_lib('pyroute2'), exception=PYROUTE2_IMPORT_ERROR)


def finish(module, task):
    """Exit ``module`` with what ``task()`` returns, or fail it with the TaskFailed it raises."""
    try:
        result = task()
    except TaskFailed as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(**result)


def finish_netlink(module, task):
    """:func:`finish` for a task that takes a Netlink: ``task(netlink)``."""
    def run():
        require_pyroute2()
        with Netlink() as netlink:
            return task(netlink)
    finish(module, run)


def run_netlink(netlink, check_mode, result_key, namespaces, plan, report, nsid_keys=(), links_only=False):
    """Read ``namespaces`` (names; None is the host's), plan, apply, report: the result dict.

    ``plan(views, nsids)`` returns ``(steps, problems)``; ``report(views)`` the managed
    objects as a list of dicts. ``links_only`` reads links but no addresses or routes.
    """
    namespaces = list(namespaces)
    views = netlink.read_views(namespaces, links_only)
    steps, problems = plan(views, netlink.nsids(nsid_keys))
    if problems:
        raise TaskFailed('; '.join(problems), problems=problems, changed=False)
    commands = [step.as_command() for step in steps]
    before = report(views)
    if check_mode or not steps:
        after = report(simulate(views, steps))
    else:
        try:
            netlink.apply(steps)
        except StepFailed as exc:
            raise TaskFailed(str(exc), changed=bool(exc.done), commands=commands,
                             applied=[step.as_command() for step in exc.done])
        after = report(netlink.read_views(namespaces, links_only))
    return {
        'changed': bool(steps),
        'commands': commands,
        'diff': {'before': {result_key: before}, 'after': {result_key: after}},
        result_key: after,
    }


def netns_task(module, netlink, params, spared=()):
    """``spared``: pids an earlier step of the same run stops (the lab's own services), which
    therefore do not keep a namespace from being deleted, even when check mode only predicts
    that stop."""
    try:
        names, loopback, kill_processes = parse_netns(params)
    except InvalidInput as exc:
        raise invalid(exc)
    state = params['state']
    entries = dict((name, NetnsEntry(name, named_namespaces.status(name))) for name in names)
    if state == 'absent':
        for name, processes in named_namespaces.processes_in(names).items():
            entries[name].processes = dict((pid, command) for pid, command in processes.items()
                                           if pid not in spared)

    def plan(views, nsids):
        return plan_netns(names, state, loopback, kill_processes, entries, views)

    # Only the state of lo matters here: no address or route dumps per namespace.
    return run_netlink(netlink, module.check_mode, 'namespaces', names, plan,
                       lambda views: report_netns(names, views), links_only=True)


def bridge_task(module, netlink, params):
    try:
        specs = parse_bridges(task_items(params, 'bridges', BRIDGE_KEYS))
    except InvalidInput as exc:
        raise invalid(exc)

    def plan(views, nsids):
        return plan_bridges(specs, params['state'], views, module.check_mode)

    return run_netlink(netlink, module.check_mode, 'bridges', [spec['netns'] for spec in specs], plan,
                       lambda views: report_bridges(specs, views))


def veth_task(module, netlink, params):
    try:
        pairs = parse_pairs(task_items(params, 'pairs', PAIR_KEYS))
    except InvalidInput as exc:
        raise invalid(exc)

    def plan(views, nsids):
        return plan_pairs(pairs, params['state'], views, nsids, module.check_mode)

    namespaces = [pair[side]['netns'] for pair in pairs for side in 'ab']
    return run_netlink(netlink, module.check_mode, 'pairs', namespaces, plan,
                       lambda views: report_pairs(pairs, views), nsid_keys=nsid_keys(pairs))
