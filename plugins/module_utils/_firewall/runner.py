# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape every firewall module runs in: lock, read, plan, apply (unless check mode), report.

The module's own planning turns the rules the kernel holds into what it wants (a
:class:`FirewallTask`); it sees the current rules because published ports must not clash
with ports another bridge already publishes. Kernel settings are written after the rules,
so forwarding is never turned on before the rules that guard it are in place; what they
were before is kept in the ledger (:mod:`sysctl_ledger`), and the last owner that lets a
setting go puts it back.

The two firewall modules' tasks (:mod:`masquerade_task`, :mod:`publish_task`) run here;
failures raise :class:`errors.TaskFailed`.

A task may name conntrack flows to delete (``flows``: published ports that went). They
are deleted right after the rules changed, so no packet can start a new flow through the
rules that went, and only in a real run; the commands list them as ``conntrack -D`` lines
wherever the rules change, in check mode too, since which flows exist is the traffic's
business, not the task's outcome.
"""


from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.interpreter import respawn_with
from ansible_collections.nslab.net.plugins.module_utils._common.results import task_result
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import FirewallError, XtablesLock, detect_backend, load_iptc, open_backend
from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import owned_rules, plan_firewall, simulate_rules
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctl_ledger import LedgerError, load_ledger, plan_ledger, save_ledger
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import Sysctl, read_sysctls, write_sysctl

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import FirewallTask
    from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Ruleset
    from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctl_ledger import LedgerPlan


def run_firewall(module: 'AnsibleModule', backend: str, want: Callable[['Ruleset'], 'FirewallTask'],
                 delete_flows: Optional[Callable[[List[Any]], object]] = None) -> Dict[str, Any]:
    """Lock, read, plan, apply, report: the result dict. ``want(current_ruleset)`` returns a
    :class:`plan.FirewallTask`; ``delete_flows(flows)`` deletes the conntrack flows of the
    task's ``flows`` (only port publishing has any, and only it needs netlink for them)."""
    try:
        if backend == 'auto':
            backend = detect_backend(module)
        if backend == 'legacy' and load_iptc() is None:
            respawn_with('iptc')  # python-iptables of the distribution, for its own Python
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
            missing = {setting for setting, unused in task.sysctls if values[setting.name] is None}
            problems = task.problems + [message for setting, message in task.required if setting in missing]
            if problems:
                raise TaskFailed('; '.join(problems), problems=problems, changed=False, backend=backend)
            plan = plan_firewall(current, task.owners, task.rules)
            kernel = plan_ledger(ledger, values, task.owners, task.wanted_sysctls())
            before = owned_rules(current, task.owners)
            # The plan is applied whole or not at all, under the lock, in the canonical form
            # iptables-save writes (the system tests hold check runs, which predict, equal to
            # real ones): what it leaves is the simulation, without another save.
            after = owned_rules(simulate_rules(current, plan), task.owners)
            flows = task.flows if plan else []
            flow_warnings = []
            if plan and not module.check_mode:
                tables.apply(plan)
                flow_warnings = _delete_flows(delete_flows, flows)
            if not module.check_mode:
                _write_settings(backend, ledger, kernel)
    except (FirewallError, LedgerError) as exc:
        raise TaskFailed(str(exc), backend=backend)
    for warning in task.warnings + flow_warnings + kernel.warnings:
        module.warn(warning)
    names = list(dict.fromkeys([setting.name for setting, unused in task.sysctls] + kernel.released))
    values_before = {name: values[name] for name in names}
    values_after = dict(values_before)
    values_after.update(kernel.writes)
    commands = plan.commands() + [flow.conntrack_deletion_command() for flow in flows]
    commands += ['sysctl -w %s=%s' % (name, value) for name, value in kernel.writes]
    return task_result(bool(plan) or bool(kernel.writes), commands, dict(rules=before, sysctls=values_before),
                       dict(rules=after, sysctls=values_after), backend=backend)


def _delete_flows(delete_flows: Optional[Callable[[List[Any]], object]], flows: List[Any]) -> List[str]:
    """Delete the conntrack flows through ``flows``; warnings where that failed.

    The rules have changed by then, so a failure does not fail the task: the flows that
    were not deleted end when their traffic pauses for the conntrack timeout.
    """
    if not flows:
        return []
    if delete_flows is None:
        raise TaskFailed('the task has conntrack flows to delete but no way to delete them (a bug)', changed=True)
    try:
        delete_flows(flows)
    except OSError as exc:
        return ['could not delete the conntrack flows of the ports that went (%s): clients that keep'
                ' sending may reach the old destination until their flows time out' % exc]
    return []


def _write_settings(backend: str, ledger: Dict[str, Dict[str, Any]], kernel: 'LedgerPlan') -> None:
    """The ledger first, then the settings: a setting is never changed without its record."""
    if kernel.ledger != ledger:
        save_ledger(kernel.ledger)
    for name, value in kernel.writes:
        try:
            write_sysctl(Sysctl.from_name(name), value)
        except OSError as exc:
            raise TaskFailed('could not set %s to %s: %s' % (name, value, exc), changed=True, backend=backend)
