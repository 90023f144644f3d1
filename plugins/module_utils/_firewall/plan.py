# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From the rules the kernel holds and the rules a task wants, the change: pure data.

A task manages a set of owners (comments such as ``nslab:publish:br0``). Their rules are
compared with what the task wants as multisets, so the cost is linear in the number of
rules and a rule that is already there is never written again. Rules of other owners in
our chains, and rules without our comment anywhere, are never touched. The skeleton
(our chains and the jumps into them) exists while any rule of ours does and goes away
with the last one, except for chains in which somebody else keeps rules (the user hook).
"""


from collections import Counter
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import (
    CHAINS, SKELETON_COMMENT, TABLES, is_ours, jump_rules)

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule, Ruleset
    from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import Sysctl
    # FirewallTask.flows are ports.PublishedPort: imported here, even for types only, ports would
    # join nat_masquerade's payload (ansible-core bundles these imports too), so they are Any.


#: The backend option of both firewall modules: which iptables flavour the rules go to.
BACKEND_OPTION = dict(type='str', choices=['auto', 'legacy', 'nft'], default='auto')


class FirewallPlan:
    """The changes, in the order a backend applies them within each table.

    ``deletes`` are ``(rule, index)`` with ``index`` the rule's position in its chain as
    read (legacy deletes that very entry); ``inserts`` go to the top of built-in chains.
    """

    def __init__(self) -> None:
        self.new_chains: List[Tuple[str, str]] = []
        self.deletes: List[Tuple['Rule', int]] = []
        self.inserts: List['Rule'] = []
        self.appends: List['Rule'] = []
        self.old_chains: List[Tuple[str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.new_chains or self.deletes or self.inserts or self.appends or self.old_chains)

    def tables(self) -> List[str]:
        """The tables the plan changes, in a fixed order."""
        touched = {table for table, unused in self.new_chains + self.old_chains}
        touched.update(rule.table for rule, unused in self.deletes)
        touched.update(rule.table for rule in self.inserts + self.appends)
        return [table for table in TABLES if table in touched]

    def restore_input(self) -> str:
        """The plan as ``iptables-restore --noflush`` input: one transaction per table."""
        lines = []
        for table in self.tables():
            lines.append('*%s' % table)
            lines += ['-N %s' % chain for t, chain in self.new_chains if t == table]
            lines += [rule.as_line('-D') for rule, unused in self.deletes if rule.table == table]
            lines += [rule.as_line('-I') for rule in self.inserts if rule.table == table]
            lines += [rule.as_line('-A') for rule in self.appends if rule.table == table]
            lines += ['-X %s' % chain for t, chain in self.old_chains if t == table]
            lines.append('COMMIT')
        return '\n'.join(lines) + '\n' if lines else ''

    def commands(self) -> List[str]:
        """The equivalent ``iptables`` commands, in the order they take effect."""
        commands = []
        for table in self.tables():
            commands += ['iptables -t %s -N %s' % (table, chain) for t, chain in self.new_chains if t == table]
            commands += [rule.as_command('-D') for rule, unused in self.deletes if rule.table == table]
            commands += [rule.as_command('-I', 1) for rule in self.inserts if rule.table == table]
            commands += [rule.as_command('-A') for rule in self.appends if rule.table == table]
            commands += ['iptables -t %s -X %s' % (table, chain) for t, chain in self.old_chains if t == table]
        return commands


def _our_chains() -> List[Tuple[str, str]]:
    return [(table, chain) for table in TABLES for chain in CHAINS[table]]


def _indexed(current: 'Ruleset', table: str, chain: str) -> List[Tuple[int, 'Rule']]:
    return list(enumerate(current.chain_rules(table, chain)))


def plan_firewall(current: 'Ruleset', owners: Iterable[str], wanted: Iterable['Rule']) -> FirewallPlan:
    """The plan that makes the rules of ``owners`` (comments) exactly ``wanted``.

    ``wanted`` is a list of rules, each in one of our chains and commented with one of
    ``owners``; duplicates in it count once.
    """
    plan = FirewallPlan()
    owners = set(owners)
    wanted = list(dict.fromkeys(wanted))
    wanted_left = Counter(wanted)
    others = foreign = False
    foreign_chains = set()
    for table, chain in _our_chains():
        for index, rule in _indexed(current, table, chain):
            comment = rule.comment
            if comment in owners:
                if wanted_left[rule] > 0:
                    wanted_left[rule] -= 1
                else:
                    plan.deletes.append((rule, index))
            elif comment == SKELETON_COMMENT:
                continue
            elif is_ours(rule):
                others = True
            else:
                foreign = True
                foreign_chains.add((table, chain))
    plan.appends += [rule for rule in wanted if wanted_left.pop(rule, 0) > 0]
    if wanted or others:
        _keep_skeleton(current, plan)
    else:
        _remove_skeleton(current, plan, foreign_chains if foreign else set())
    return plan


def _skeleton_rules(current: 'Ruleset', table: str, chain: str) -> List[Tuple[int, 'Rule']]:
    return [(index, rule) for index, rule in _indexed(current, table, chain)
            if rule.comment == SKELETON_COMMENT]


def _keep_skeleton(current: 'Ruleset', plan: FirewallPlan) -> None:
    """Create what is missing of the skeleton and repair what is out of order."""
    plan.new_chains += [(table, chain) for table, chain in _our_chains() if not current.has_chain(table, chain)]
    jumps = jump_rules()
    by_chain: Dict[Tuple[str, str], List['Rule']] = {}
    for rule in jumps:
        by_chain.setdefault((rule.table, rule.chain), []).append(rule)
    for (table, chain), expected in by_chain.items():
        present = _skeleton_rules(current, table, chain)
        if chain.startswith('NSLAB-'):
            # Order matters here: if ours are not exactly the expected sequence, rewrite them.
            if [rule for unused, rule in present] != expected:
                plan.deletes += [(rule, index) for index, rule in present]
                plan.appends[:0] = list(expected)
            continue
        seen: Dict['Rule', int] = Counter()
        for index, rule in present:
            seen[rule] += 1
            if rule not in expected or seen[rule] > 1:
                plan.deletes.append((rule, index))
        # Inserted at the top one by one, so insert in reverse to keep the listed order.
        plan.inserts += [rule for rule in reversed(expected) if not seen[rule]]


def _remove_skeleton(current: 'Ruleset', plan: FirewallPlan, foreign_chains: Set[Tuple[str, str]]) -> None:
    """Remove our chains and jumps, keeping chains (and their jumps) that hold others' rules."""
    keep = {chain for unused, chain in foreign_chains}
    if keep & set(CHAINS['filter'][1:5]):
        keep.add('NSLAB-FORWARD')
    jumps = set(jump_rules())
    for table in TABLES:
        for chain in current.chains[table]:
            for index, rule in _skeleton_rules(current, table, chain):
                target = rule.args[-1]
                if rule not in jumps or target not in keep or chain not in keep and chain.startswith('NSLAB-'):
                    plan.deletes.append((rule, index))
    plan.old_chains += [(table, chain) for table, chain in _our_chains()
                        if current.has_chain(table, chain) and chain not in keep]


def simulate_rules(current: 'Ruleset', plan: FirewallPlan) -> 'Ruleset':
    """The ruleset after ``plan``, computed without the kernel (for check mode)."""
    after = current.copy()
    for table, chain in plan.new_chains:
        after.add_chain(table, chain)
    doomed: Dict[Tuple[str, str], Set[int]] = {}
    for rule, index in plan.deletes:
        doomed.setdefault((rule.table, rule.chain), set()).add(index)
    for (table, chain), indexes in doomed.items():
        after.rules[table][chain] = [rule for index, rule in enumerate(after.rules[table][chain])
                                     if index not in indexes]
    for rule in plan.inserts:
        after.add_chain(rule.table, rule.chain)
        after.rules[rule.table][rule.chain].insert(0, rule)
    for rule in plan.appends:
        after.append(rule)
    for table, chain in plan.old_chains:
        after.chains[table].remove(chain)
        del after.rules[table][chain]
    return after


def owned_rules(ruleset: 'Ruleset', owners: Iterable[str]) -> List[str]:
    """The rules of ``owners`` in ``ruleset`` as ``-t TABLE -A CHAIN ...`` lines.

    Chains by name, rules in chain order: backends list chains in different orders.
    """
    owners = set(owners)
    return ['-t %s %s' % (table, rule.as_line()) for table in TABLES for chain in sorted(ruleset.rules[table])
            for rule in ruleset.rules[table][chain] if rule.comment in owners]


class FirewallTask:
    """What a module wants: the rules of ``owners`` (comments), kernel settings, or problems.

    ``sysctls`` are ``(Sysctl, value)`` pairs; ``holders`` maps a setting to those of
    ``owners`` that need it (all of them where it is not named). A setting listed without
    holders is one none of them needs any more (port_publish lists route_localnet=0 for a
    bridge without loopback ports): it is not written but let go, and goes back to what it
    was before nslab changed it. ``required`` names settings the kernel must have, each with
    the message to fail with where it has not. ``flows`` are published mappings that go,
    whose conntrack flows are deleted once the rules changed (a real run only).
    """

    def __init__(self, owners: Iterable[str] = (), rules: Iterable['Rule'] = (), sysctls: Iterable[Tuple['Sysctl', int]] = (),
                 required: Iterable[Tuple['Sysctl', str]] = (), problems: Iterable[str] = (), warnings: Iterable[str] = (),
                 holders: Optional[Mapping['Sysctl', Iterable[str]]] = None, flows: Iterable[Any] = ()) -> None:
        self.owners = list(owners)
        self.rules = list(rules)
        self.sysctls = list(sysctls)
        self.required = list(required)
        self.problems = list(problems)
        self.warnings = list(warnings)
        self.holders = dict(holders or {})
        self.flows = list(flows)

    def wanted_sysctls(self) -> List[Tuple[str, int, List[str]]]:
        """``(name, value, holders)`` per setting, as :func:`sysctl_ledger.plan_ledger` takes them."""
        return [(setting.name, value, list(self.holders.get(setting, self.owners)))
                for setting, value in self.sysctls]
