# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every firewall module runs in: lock, read, plan, apply (unless check mode), report.

The module's own planning turns the rules the kernel holds into what it wants (a
:class:`FirewallTask`); it sees the current rules because published ports must not clash
with ports another bridge already publishes. Kernel settings are written after the rules,
so forwarding is never turned on before the rules that guard it are in place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.nslab.net.plugins.module_utils.firewall_planning import (
    owned_rules, plan_firewall, simulate)
from ansible_collections.nslab.net.plugins.module_utils.iptables_backends import (
    FirewallError, XtablesLock, detect_backend, open_backend)
from ansible_collections.nslab.net.plugins.module_utils.kernel_sysctls import (
    plan_sysctls, write_sysctl)

BACKEND_OPTION = dict(type='str', choices=['auto', 'legacy', 'nft'], default='auto')


class FirewallTask:
    """What a module wants: the rules of ``owners`` (comments), kernel settings, or problems.

    ``sysctls`` are ``(Sysctl, value)`` pairs; ``required`` names those of them the kernel
    must have, each with the message to fail with where it has not.
    """

    def __init__(self, owners=(), rules=(), sysctls=(), required=(), problems=(), warnings=()):
        self.owners = list(owners)
        self.rules = list(rules)
        self.sysctls = list(sysctls)
        self.required = list(required)
        self.problems = list(problems)
        self.warnings = list(warnings)


def converge_firewall(module, want):
    """Run the module and exit it; ``want(current_ruleset)`` returns a :class:`FirewallTask`."""
    backend = module.params['backend']
    try:
        if backend == 'auto':
            backend = detect_backend(module)
        tables = open_backend(module, backend)
        with XtablesLock():
            current = tables.read()
            task = want(current)
            settings = plan_sysctls(task.sysctls)
            missing = set(setting for setting, before, unused in settings if before is None)
            problems = task.problems + [message for setting, message in task.required if setting in missing]
            if problems:
                module.fail_json(msg='; '.join(problems), problems=problems, changed=False, backend=backend)
            plan = plan_firewall(current, task.owners, task.rules)
            changes = [(setting, new) for setting, old, new in settings if old != new]
            before = owned_rules(current, task.owners)
            if module.check_mode or not plan:
                after = owned_rules(simulate(current, plan), task.owners)
            else:
                tables.apply(plan)
                after = owned_rules(tables.read(), task.owners)
    except FirewallError as exc:
        module.fail_json(msg=str(exc), backend=backend)
    if not module.check_mode:
        for setting, value in changes:
            try:
                write_sysctl(setting, value)
            except (IOError, OSError) as exc:
                module.fail_json(msg='could not set %s to %s: %s' % (setting.name, value, exc),
                                 changed=True, backend=backend)
    for warning in task.warnings:
        module.warn(warning)
    values_before = dict((setting.name, old) for setting, old, unused in settings)
    values_after = dict((setting.name, new) for setting, unused, new in settings)
    module.exit_json(
        changed=bool(plan) or bool(changes),
        backend=backend,
        rules=after,
        sysctls=values_after,
        commands=plan.commands() + ['sysctl -w %s=%s' % (setting.name, value) for setting, value in changes],
        diff={'before': {'rules': before, 'sysctls': values_before},
              'after': {'rules': after, 'sysctls': values_after}},
    )
