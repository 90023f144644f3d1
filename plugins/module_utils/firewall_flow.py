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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.nslab.net.plugins.module_utils.firewall_planning import (
    owned_rules, plan_firewall, simulate)
from ansible_collections.nslab.net.plugins.module_utils.iptables_backends import (
    FirewallError, XtablesLock, detect_backend, open_backend)
from ansible_collections.nslab.net.plugins.module_utils.kernel_sysctls import (
    Sysctl, read_sysctls, write_sysctl)
from ansible_collections.nslab.net.plugins.module_utils.sysctl_ledger import (
    LedgerError, load_ledger, plan_ledger, save_ledger)

BACKEND_OPTION = dict(type='str', choices=['auto', 'legacy', 'nft'], default='auto')


class FirewallTask:
    """What a module wants: the rules of ``owners`` (comments), kernel settings, or problems.

    ``sysctls`` are ``(Sysctl, value)`` pairs; ``holders`` maps a setting to those of
    ``owners`` that need it (all of them where it is not named). A setting listed without
    holders is one none of them needs any more (port_publish lists route_localnet=0 for a
    bridge without loopback ports): it is not written but let go, and goes back to what it
    was before nslab changed it. ``required`` names settings the kernel must have, each with
    the message to fail with where it has not.
    """

    def __init__(self, owners=(), rules=(), sysctls=(), required=(), problems=(), warnings=(), holders=None):
        self.owners = list(owners)
        self.rules = list(rules)
        self.sysctls = list(sysctls)
        self.required = list(required)
        self.problems = list(problems)
        self.warnings = list(warnings)
        self.holders = dict(holders or {})

    def wanted_sysctls(self):
        """``(name, value, holders)`` per setting, as :func:`sysctl_ledger.plan_ledger` takes them."""
        return [(setting.name, value, list(self.holders.get(setting, self.owners)))
                for setting, value in self.sysctls]


def converge_firewall(module, want):
    """Run the module and exit it; ``want(current_ruleset)`` returns a :class:`FirewallTask`."""
    backend = module.params['backend']
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
                module.fail_json(msg='; '.join(problems), problems=problems, changed=False, backend=backend)
            plan = plan_firewall(current, task.owners, task.rules)
            kernel = plan_ledger(ledger, values, task.owners, task.wanted_sysctls())
            before = owned_rules(current, task.owners)
            if module.check_mode or not plan:
                after = owned_rules(simulate(current, plan), task.owners)
            else:
                tables.apply(plan)
                after = owned_rules(tables.read(), task.owners)
            if not module.check_mode:
                _write_settings(module, backend, ledger, kernel)
    except (FirewallError, LedgerError) as exc:
        module.fail_json(msg=str(exc), backend=backend)
    for warning in task.warnings + kernel.warnings:
        module.warn(warning)
    names = list(dict.fromkeys([setting.name for setting, unused in task.sysctls] + kernel.released))
    values_before = dict((name, values[name]) for name in names)
    values_after = dict(values_before)
    values_after.update(kernel.writes)
    module.exit_json(
        changed=bool(plan) or bool(kernel.writes),
        backend=backend,
        rules=after,
        sysctls=values_after,
        commands=plan.commands() + ['sysctl -w %s=%s' % (name, value) for name, value in kernel.writes],
        diff={'before': {'rules': before, 'sysctls': values_before},
              'after': {'rules': after, 'sysctls': values_after}},
    )


def _write_settings(module, backend, ledger, kernel):
    """The ledger first, then the settings: a setting is never changed without its record."""
    if kernel.ledger != ledger:
        save_ledger(kernel.ledger)
    for name, value in kernel.writes:
        try:
            write_sysctl(Sysctl.from_name(name), value)
        except (IOError, OSError) as exc:
            module.fail_json(msg='could not set %s to %s: %s' % (name, value, exc),
                             changed=True, backend=backend)
