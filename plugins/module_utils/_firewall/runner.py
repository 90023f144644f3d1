# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every firewall module runs in: lock, read, plan, apply (unless check mode), report.

The module's own planning turns the rules the kernel holds into what it wants (a
:class:`FirewallTask`); it sees the current rules because published ports must not clash
with ports another bridge already publishes. Kernel settings are written after the rules,
so forwarding is never turned on before the rules that guard it are in place; what they
were before is kept in the ledger (:mod:`sysctl_ledger`), and the last owner that lets a
setting go puts it back.

Each module's work is a function from validated parameters to its result
(``nat_masquerade_task``, ``port_publish_task``), shared by the module and by
nslab.net.lab_network; failures raise :class:`module_flow.TaskFailed`.

A task may name conntrack flows to delete (``flows``: published ports that went). They
are deleted right after the rules changed, so no packet can start a new flow through the
rules that went, and only in a real run; the commands list them as ``conntrack -D`` lines
wherever the rules change, in check mode too, since which flows exist is the traffic's
business, not the task's outcome.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible_collections.nslab.net.plugins.module_utils._netlink.conntrack import delete_flows, deletion_command
from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import (
    owned_rules, plan_firewall, simulate)
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import (
    FirewallError, XtablesLock, detect_backend, open_backend)
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import (
    Sysctl, read_sysctls, write_sysctl)
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import (
    NETWORK_KEYS, masquerade_task, parse_networks)
from ansible_collections.nslab.net.plugins.module_utils._netlink.tasks import TaskFailed, invalid
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import (
    PUBLISH_KEYS, parse_publish, publish_task)
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctl_ledger import (
    LedgerError, load_ledger, plan_ledger, save_ledger)
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import InvalidInput, task_items


def nat_masquerade_task(module, params):
    state = params['state']
    try:
        networks = parse_networks(task_items(params, 'networks', NETWORK_KEYS), state)
    except InvalidInput as exc:
        raise invalid(exc)
    return run_firewall(module, params['backend'], lambda current: masquerade_task(networks, state))


def port_publish_task(module, netlink, params):
    state = params['state']
    exclusive = bool(params.get('exclusive'))
    try:
        wanted = parse_publish(task_items(params, 'publish', PUBLISH_KEYS), state, exclusive)
    except InvalidInput as exc:
        raise invalid(exc)
    subnets = bridge_subnets(netlink, sorted(wanted))
    return run_firewall(module, params['backend'],
                        lambda current: publish_task(wanted, state, subnets, current, module.check_mode, exclusive))


def bridge_subnets(netlink, names):
    """Each bridge's IPv4 subnets, None for a bridge that does not exist."""
    view = netlink.read_views([None])[None]
    subnets = {}
    for name in names:
        link = view.link(name)
        if link is None:
            subnets[name] = None
        elif link.kind != 'bridge':
            raise TaskFailed('%s is a %s link, not a bridge' % (name, link.kind or 'physical'))
        else:
            networks = [ipaddress.ip_interface(u'%s' % address).network for address in link.addresses]
            subnets[name] = [str(network) for network in networks if network.version == 4]
    return subnets


def run_firewall(module, backend, want):
    """Lock, read, plan, apply, report: the result dict. ``want(current_ruleset)`` returns a
    :class:`firewall_planning.FirewallTask`."""
    try:
        if backend == 'auto':
            backend = detect_backend(module)
        tables = open_backend(module, backend)
        # The ledger is read, planned and written, and the settings written, under the
        # xtables lock the rules need anyway rather than under a lock of its own: every
        # nslab firewall task holds this lock for its whole run, so two of them never plan
        # from the same ledger or interleave their writes; one lock cannot be taken in two
        # orders; and a plain iptables -w waits only for a few small file writes more.
        with XtablesLock():
            ledger = load_ledger()
            current = tables.read()
            task = want(current)
            settings = [setting for setting, unused in task.sysctls]
            settings += [Sysctl.from_name(name) for name in sorted(ledger)]
            values = read_sysctls(settings)
            missing = set(setting for setting, unused in task.sysctls if values[setting.name] is None)
            problems = task.problems + [message for setting, message in task.required if setting in missing]
            if problems:
                raise TaskFailed('; '.join(problems), problems=problems, changed=False, backend=backend)
            plan = plan_firewall(current, task.owners, task.rules)
            kernel = plan_ledger(ledger, values, task.owners, task.wanted_sysctls())
            before = owned_rules(current, task.owners)
            # The plan is applied whole or not at all, under the lock, in the canonical form
            # iptables-save writes (the system tests hold check runs, which predict, equal to
            # real ones): what it leaves is the simulation, without another save.
            after = owned_rules(simulate(current, plan), task.owners)
            flows = task.flows if plan else []
            flow_warnings = []
            if plan and not module.check_mode:
                tables.apply(plan)
                flow_warnings = _delete_flows(flows)
            if not module.check_mode:
                _write_settings(backend, ledger, kernel)
    except (FirewallError, LedgerError) as exc:
        raise TaskFailed(str(exc), backend=backend)
    for warning in task.warnings + flow_warnings + kernel.warnings:
        module.warn(warning)
    names = list(dict.fromkeys([setting.name for setting, unused in task.sysctls] + kernel.released))
    values_before = dict((name, values[name]) for name in names)
    values_after = dict(values_before)
    values_after.update(kernel.writes)
    return dict(
        changed=bool(plan) or bool(kernel.writes),
        backend=backend,
        rules=after,
        sysctls=values_after,
        commands=plan.commands() + [deletion_command(flow) for flow in flows]
        + ['sysctl -w %s=%s' % (name, value) for name, value in kernel.writes],
        diff={'before': {'rules': before, 'sysctls': values_before},
              'after': {'rules': after, 'sysctls': values_after}},
    )


def _delete_flows(flows):
    """Delete the conntrack flows through ``flows``; warnings where that failed.

    The rules have changed by then, so a failure does not fail the task: the flows that
    were not deleted end when their traffic pauses for the conntrack timeout.
    """
    try:
        delete_flows(flows)
    except (IOError, OSError) as exc:
        return ['could not delete the conntrack flows of the ports that went (%s): clients that keep'
                ' sending may reach the old destination until their flows time out' % exc]
    return []


def _write_settings(backend, ledger, kernel):
    """The ledger first, then the settings: a setting is never changed without its record."""
    if kernel.ledger != ledger:
        save_ledger(kernel.ledger)
    for name, value in kernel.writes:
        try:
            write_sysctl(Sysctl.from_name(name), value)
        except (IOError, OSError) as exc:
            raise TaskFailed('could not set %s to %s: %s' % (name, value, exc), changed=True, backend=backend)
