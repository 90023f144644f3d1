# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every netlink module runs in: parse, read, plan, apply (unless check mode), report.

Each module has two functions here: ``*_spec(params)`` parses its arguments into a spec
(raising TaskFailed with every problem), and ``converge_*(module, netlink, spec)`` makes the
kernel match it and returns the result. The modules run both; nslab.net.lab_network, which
runs them all in one process with one Netlink, builds the same specs from its plan.

Arguments are parsed before any of this reads, so a bad task never opens a socket. The
diff's ``after`` is a re-read of the kernel after a real run and a simulation of the plan in
check mode; both go through the module's own report function.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import (
    BRIDGE_KEYS, parse_bridges, plan_bridges, report_bridges)
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import simulate_links
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import (
    PYROUTE2_IMPORT_ERROR, Netlink, StepFailed)
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import (
    NetnsEntry, parse_netns, plan_netns, report_netns)
from ansible_collections.nslab.net.plugins.module_utils._common.interpreter import lacking, respawn_with
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput, TaskFailed, invalid
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import task_items
from ansible_collections.nslab.net.plugins.module_utils._common.results import finish, task_result
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import (
    PAIR_KEYS, nsid_keys, parse_pairs, plan_pairs, report_pairs)


def require_pyroute2():
    """Respawn under a system Python that has pyroute2 when this one lacks it, else fail
    naming this interpreter."""
    if PYROUTE2_IMPORT_ERROR:
        respawn_with('pyroute2')
        raise TaskFailed('%s. %s' % (lacking(['pyroute2']), missing_required_lib('pyroute2')),
                         exception=PYROUTE2_IMPORT_ERROR)


def finish_netlink_module(module, parse, converge):
    """End ``module`` with ``converge(module, netlink, parse(module.params))``: the arguments
    are parsed before pyroute2 is looked for or a socket opened."""
    def run():
        spec = parse(module.params)
        require_pyroute2()
        with Netlink() as netlink:
            return converge(module, netlink, spec)
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
        after = report(simulate_links(views, steps))
    else:
        try:
            netlink.apply(steps)
        except StepFailed as exc:
            raise TaskFailed(str(exc), changed=bool(exc.done), commands=commands,
                             applied=[step.as_command() for step in exc.done])
        after = report(netlink.read_views(namespaces, links_only))
    return task_result(steps, commands, {result_key: before}, {result_key: after})


def netns_spec(params):
    """What nslab.net.netns's arguments ask for; TaskFailed naming every bad value."""
    try:
        names, loopback, kill_processes = parse_netns(params)
    except InvalidInput as exc:
        raise invalid(exc)
    return dict(names=names, loopback=loopback, kill_processes=kill_processes, state=params['state'])


def converge_netns(module, netlink, spec, spared=()):
    """``spared``: pids an earlier step of the same run stops (the lab's own services), which
    therefore do not keep a namespace from being deleted, even when check mode only predicts
    that stop."""
    names, state = spec['names'], spec['state']
    entries = dict((name, NetnsEntry(name, named_namespaces.status(name))) for name in names)
    if state == 'absent':
        for name, processes in named_namespaces.processes_in(names).items():
            entries[name].processes = dict((pid, command) for pid, command in processes.items()
                                           if pid not in spared)

    def plan(views, nsids):
        return plan_netns(names, state, spec['loopback'], spec['kill_processes'], entries, views)

    # Only the state of lo matters here: no address or route dumps per namespace.
    return run_netlink(netlink, module.check_mode, 'namespaces', names, plan,
                       lambda views: report_netns(names, views), links_only=True)


def bridge_spec(params):
    """What nslab.net.bridge's arguments ask for; TaskFailed naming every bad value."""
    try:
        return dict(bridges=parse_bridges(task_items(params, 'bridges', BRIDGE_KEYS)), state=params['state'])
    except InvalidInput as exc:
        raise invalid(exc)


def converge_bridges(module, netlink, spec):
    bridges = spec['bridges']

    def plan(views, nsids):
        return plan_bridges(bridges, spec['state'], views, module.check_mode)

    return run_netlink(netlink, module.check_mode, 'bridges', [bridge['netns'] for bridge in bridges], plan,
                       lambda views: report_bridges(bridges, views))


def veth_spec(params):
    """What nslab.net.veth's arguments ask for; TaskFailed naming every bad value."""
    try:
        return dict(pairs=parse_pairs(task_items(params, 'pairs', PAIR_KEYS)), state=params['state'])
    except InvalidInput as exc:
        raise invalid(exc)


def converge_pairs(module, netlink, spec):
    pairs = spec['pairs']

    def plan(views, nsids):
        return plan_pairs(pairs, spec['state'], views, nsids, module.check_mode)

    namespaces = [pair[side]['netns'] for pair in pairs for side in 'ab']
    return run_netlink(netlink, module.check_mode, 'pairs', namespaces, plan,
                       lambda views: report_pairs(pairs, views), nsid_keys=nsid_keys(pairs))
