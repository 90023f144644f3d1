# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plan_firewall and nat_masquerade's planning, on rulesets made by hand: no kernel, no root.

Covered: the first plan (chains, jumps, rules; restore input and commands), idempotence,
ownership (only the task's owners are deleted, duplicates reduced to one), removal of the
skeleton with the last owner except the user hook, repair of the skeleton's jumps,
owned_rules, and parse_networks / network_rules / masquerade_task.
"""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import (
    owned_rules, plan_firewall, simulate_rules)
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import (
    BUILTIN_CHAINS, CHAINS, JUMPS, TABLES, Rule, Ruleset, build, jump_rules, parse_save)
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import BRIDGE_NF_CALL_IPTABLES, IP_FORWARD
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import (
    masquerade_task, network_rules, parse_networks)
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput

OWNER = 'nslab:masquerade:br0'
OTHER = 'nslab:masquerade:br1'
EMPTY_TEXT = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
"""
USER_TEXT = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -s 192.0.2.2/32 -j ACCEPT
-A INPUT -i lo -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
"""
FOREIGN_INBOUND = Rule('filter', 'NSLAB-INBOUND', ['-s', '198.51.100.7/32', '-j', 'ACCEPT'])
USER_HOOK_RULE = Rule('filter', 'NSLAB-USER', ['-s', '192.0.2.7/32', '-j', 'DROP'])


def rules_of(bridge, subnet, icc=True, out_interface=None):
    network = dict(bridge=bridge, subnet=subnet, icc=icc, out_interface=out_interface)
    return masquerade_task(parse_networks([network], 'present'), 'present').rules


BR0 = rules_of('br0', '10.0.0.0/24')
BR1 = rules_of('br1', '10.1.0.0/24')


def converge(current, owners, wanted):
    return simulate_rules(current, plan_firewall(current, owners, wanted))


def our_chains(ruleset):
    return [(table, chain) for table in TABLES for chain in ruleset.chains[table] if chain.startswith('NSLAB-')]


def targets(ruleset, table, chain):
    return [rule.args[-1] for rule in ruleset.chain_rules(table, chain)]


def jump(chain, target):
    return [rule for rule in jump_rules() if (rule.chain, rule.args[-1]) == (chain, target)][0]


def table_blocks(text):
    """``{table: [lines between *table and COMMIT]}``, checking each table appears once."""
    blocks, table = {}, None
    for line in text.splitlines():
        if line.startswith('*'):
            assert table is None and line[1:] not in blocks
            table = line[1:]
            blocks[table] = []
        elif line == 'COMMIT':
            table = None
        else:
            blocks[table].append(line)
    assert table is None
    return blocks


# The first plan

def test_first_plan_creates_every_chain_in_order():
    plan = plan_firewall(parse_save(EMPTY_TEXT), [OWNER], BR0)
    assert plan.new_chains == [(table, chain) for table in TABLES for chain in CHAINS[table]]
    assert plan.deletes == [] and plan.old_chains == []


def test_first_plan_inserts_the_builtin_jumps_so_they_end_up_on_top_in_order():
    current = parse_save(USER_TEXT)
    plan = plan_firewall(current, [OWNER], BR0)
    builtin = [rule for rule in jump_rules() if rule.chain in BUILTIN_CHAINS[rule.table]]
    assert sorted(plan.inserts) == sorted(builtin)
    after = simulate_rules(current, plan)
    assert targets(after, 'filter', 'FORWARD') == ['NSLAB-FORWARD', 'ACCEPT']
    assert targets(after, 'filter', 'INPUT') == ['NSLAB-INPUT', 'ACCEPT']
    assert targets(after, 'nat', 'PREROUTING') == ['NSLAB-DNAT']
    assert targets(after, 'nat', 'OUTPUT') == ['NSLAB-DNAT', 'NSLAB-DNAT-LOCAL']
    assert targets(after, 'nat', 'POSTROUTING') == ['NSLAB-POSTROUTING', 'MASQUERADE']


def test_first_plan_appends_the_forward_jumps_in_order_then_the_wanted_rules():
    plan = plan_firewall(parse_save(EMPTY_TEXT), [OWNER], BR0)
    forward = [rule for rule in jump_rules() if rule.chain == 'NSLAB-FORWARD']
    assert [rule.args[-1] for rule in forward] == [entry[3] for entry in JUMPS if entry[1] == 'NSLAB-FORWARD']
    assert plan.appends == forward + BR0


def test_first_plan_is_one_restore_transaction_per_table_with_chains_created_first():
    plan = plan_firewall(parse_save(EMPTY_TEXT), [OWNER], BR0)
    text = plan.restore_input()
    assert text.endswith('COMMIT\n') and text.startswith('*filter\n')
    blocks = table_blocks(text)
    assert list(blocks) == ['filter', 'nat']
    for table, block in blocks.items():
        verbs = [line.split()[0] for line in block]
        assert verbs[:len(CHAINS[table])] == ['-N'] * len(CHAINS[table])
        assert set(verbs[len(CHAINS[table]):]) == {'-I', '-A'}
        assert verbs.index('-A') > max(i for i, verb in enumerate(verbs) if verb == '-I')
    assert '-I FORWARD -m comment --comment nslab -j NSLAB-FORWARD' in blocks['filter']
    assert '-A NSLAB-FORWARD -m comment --comment nslab -j NSLAB-USER' in blocks['filter']
    assert '-I PREROUTING -m addrtype --dst-type LOCAL -m comment --comment nslab -j NSLAB-DNAT' in blocks['nat']
    assert ('-A NSLAB-POSTROUTING -s 10.0.0.0/24 ! -d 224.0.0.0/4 ! -o br0 -m comment --comment %s'
            ' -j MASQUERADE' % OWNER) in blocks['nat']


def test_first_plan_as_iptables_commands():
    plan = plan_firewall(parse_save(EMPTY_TEXT), [OWNER], BR0)
    commands = plan.commands()
    assert all(command.startswith('iptables -t ') for command in commands)
    assert commands[:2] == ['iptables -t filter -N NSLAB-FORWARD', 'iptables -t filter -N NSLAB-USER']
    assert 'iptables -t filter -I FORWARD 1 -m comment --comment nslab -j NSLAB-FORWARD' in commands
    assert ('iptables -t nat -A NSLAB-POSTROUTING -s 10.0.0.0/24 ! -d 224.0.0.0/4 ! -o br0 -m comment'
            ' --comment %s -j MASQUERADE' % OWNER) in commands
    # One command per line of the restore input, less the *table and COMMIT lines.
    assert len(commands) == len([line for line in plan.restore_input().splitlines()
                                 if not line.startswith('*') and line != 'COMMIT'])
    assert commands.index('iptables -t nat -N NSLAB-DNAT') > commands.index(
        'iptables -t filter -A NSLAB-FORWARD -m comment --comment nslab -j NSLAB-OUTBOUND')


def test_nothing_wanted_and_nothing_there_is_an_empty_plan():
    plan = plan_firewall(parse_save(USER_TEXT), [OWNER], [])
    assert not plan
    assert plan.restore_input() == '' and plan.commands() == [] and plan.tables() == []


# Idempotence

@pytest.mark.parametrize('text', [EMPTY_TEXT, USER_TEXT])
@pytest.mark.parametrize('wanted', [BR0, rules_of('br0', '10.0.0.0/24', icc=False, out_interface='eth0')])
def test_the_plan_after_the_plan_is_empty(text, wanted):
    after = converge(parse_save(text), [OWNER], wanted)
    plan = plan_firewall(after, [OWNER], wanted)
    assert not plan and plan.restore_input() == ''


def test_two_owners_converge_and_stay_converged_in_either_order():
    current = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    current = converge(current, [OTHER], BR1)
    assert not plan_firewall(current, [OWNER], BR0)
    assert not plan_firewall(current, [OTHER], BR1)
    assert not plan_firewall(current, [OWNER, OTHER], BR1 + BR0)


def test_wanted_duplicates_count_once():
    plan = plan_firewall(parse_save(EMPTY_TEXT), [OWNER], BR0 + BR0)
    assert [rule for rule in plan.appends if rule.comment == OWNER] == BR0


# Ownership

def test_only_the_rules_of_the_task_owners_are_deleted():
    current = converge(parse_save(USER_TEXT), [OWNER, OTHER], BR0 + BR1)
    current.append(FOREIGN_INBOUND)
    plan = plan_firewall(current, [OWNER], [])
    assert sorted(rule for rule, index in plan.deletes) == sorted(BR0)
    assert plan.new_chains == plan.old_chains == plan.inserts == plan.appends == []
    after = simulate_rules(current, plan)
    assert owned_rules(after, [OWNER]) == []
    kept = [r for t in TABLES for c in CHAINS[t] for r in after.chain_rules(t, c) if r.comment == OTHER]
    assert sorted(kept) == sorted(BR1)
    assert FOREIGN_INBOUND in after.chain_rules('filter', 'NSLAB-INBOUND')


def test_a_changed_rule_is_deleted_and_the_new_one_appended_nothing_else():
    current = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    isolated = rules_of('br0', '10.0.0.0/24', icc=False)
    plan = plan_firewall(current, [OWNER], isolated)
    accept = build('filter', 'NSLAB-INBOUND', 'ACCEPT', in_if='br0', out_if='br0', comment=OWNER)
    drop = build('filter', 'NSLAB-ISOLATE', 'DROP', in_if='br0', out_if='br0', comment=OWNER)
    assert [rule for rule, index in plan.deletes] == [accept]
    assert plan.appends == [drop]
    assert plan.restore_input() == ('*filter\n-D NSLAB-INBOUND -i br0 -o br0 -m comment --comment %s -j ACCEPT\n'
                                    '-A NSLAB-ISOLATE -i br0 -o br0 -m comment --comment %s -j DROP\nCOMMIT\n'
                                    % (OWNER, OWNER))


def test_foreign_rules_in_our_chains_and_elsewhere_are_never_deleted():
    current = converge(parse_save(USER_TEXT), [OWNER], BR0)
    current.append(FOREIGN_INBOUND)
    stray = Rule('filter', 'FORWARD', ['-m', 'comment', '--comment', OWNER, '-j', 'ACCEPT'])
    current.append(stray)
    for wanted in (BR0, rules_of('br0', '10.0.0.0/24', icc=False), []):
        plan = plan_firewall(current, [OWNER], wanted)
        deleted = [rule for rule, index in plan.deletes]
        assert FOREIGN_INBOUND not in deleted and stray not in deleted
        assert all(rule.comment in (OWNER, 'nslab') for rule in deleted)
        after = simulate_rules(current, plan)
        assert FOREIGN_INBOUND in after.chain_rules('filter', 'NSLAB-INBOUND')
        assert after.chain_rules('filter', 'FORWARD')[-2:] == [
            Rule('filter', 'FORWARD', ['-s', '192.0.2.2/32', '-j', 'ACCEPT']), stray]
        assert after.chain_rules('nat', 'POSTROUTING')[-1] == Rule('nat', 'POSTROUTING',
                                                                   ['-o', 'eth0', '-j', 'MASQUERADE'])


def test_duplicates_of_a_wanted_rule_are_reduced_to_one():
    current = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    rule = BR0[1]
    current.append(rule)
    current.append(rule)
    plan = plan_firewall(current, [OWNER], BR0)
    chain = current.chain_rules(rule.table, rule.chain)
    assert [index for unused, index in plan.deletes] == [i for i, r in enumerate(chain) if r == rule][1:]
    assert plan.appends == plan.inserts == []
    after = simulate_rules(current, plan)
    assert after.chain_rules(rule.table, rule.chain).count(rule) == 1
    assert not plan_firewall(after, [OWNER], BR0)


# Removing the last owner

def test_removing_the_last_owner_removes_every_chain_and_jump():
    current = parse_save(USER_TEXT)
    built = converge(current, [OWNER], BR0)
    plan = plan_firewall(built, [OWNER], [])
    assert sorted(plan.old_chains) == sorted((t, c) for t in TABLES for c in CHAINS[t])
    assert sorted(rule for rule, index in plan.deletes) == sorted(BR0 + jump_rules())
    for table, block in table_blocks(plan.restore_input()).items():
        verbs = [line.split()[0] for line in block]
        assert verbs == sorted(verbs, key=['-D', '-X'].index), table
    after = simulate_rules(built, plan)
    assert our_chains(after) == []
    for table in TABLES:
        for chain in BUILTIN_CHAINS[table]:
            assert after.chain_rules(table, chain) == current.chain_rules(table, chain)
    assert not plan_firewall(after, [OWNER], [])


def test_another_owner_keeps_the_skeleton():
    built = converge(parse_save(EMPTY_TEXT), [OWNER, OTHER], BR0 + BR1)
    after = converge(built, [OWNER], [])
    assert our_chains(after) == our_chains(built)
    assert sorted(jump_rules()) == sorted(r for t in TABLES for c in after.chains[t]
                                          for r in after.chain_rules(t, c) if r.comment == 'nslab')


def test_the_user_hook_keeps_its_chain_and_the_jumps_to_it():
    built = converge(parse_save(USER_TEXT), [OWNER], BR0)
    built.append(USER_HOOK_RULE)
    after = converge(built, [OWNER], [])
    assert our_chains(after) == [('filter', 'NSLAB-FORWARD'), ('filter', 'NSLAB-USER')]
    assert after.chain_rules('filter', 'NSLAB-USER') == [USER_HOOK_RULE]
    assert after.chain_rules('filter', 'NSLAB-FORWARD') == [jump('NSLAB-FORWARD', 'NSLAB-USER')]
    assert after.chain_rules('filter', 'FORWARD')[0] == jump('FORWARD', 'NSLAB-FORWARD')
    assert targets(after, 'filter', 'INPUT') == ['ACCEPT']
    assert targets(after, 'nat', 'OUTPUT') == [] and targets(after, 'nat', 'POSTROUTING') == ['MASQUERADE']
    assert not plan_firewall(after, [OWNER], [])
    # And the next task that wants rules rebuilds the rest around it.
    rebuilt = converge(after, [OWNER], BR0)
    assert rebuilt.chain_rules('filter', 'NSLAB-USER') == [USER_HOOK_RULE]
    assert targets(rebuilt, 'filter', 'NSLAB-FORWARD') == [
        'NSLAB-USER', 'NSLAB-INBOUND', 'NSLAB-ISOLATE', 'NSLAB-OUTBOUND']
    assert not plan_firewall(rebuilt, [OWNER], BR0)


def test_a_foreign_rule_in_a_nat_chain_keeps_that_chain_and_its_jumps_only():
    built = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    foreign = Rule('nat', 'NSLAB-DNAT', ['-p', 'tcp', '-m', 'tcp', '--dport', '2222', '-j', 'DNAT',
                                         '--to-destination', '10.9.0.2:22'])
    built.append(foreign)
    after = converge(built, [OWNER], [])
    assert our_chains(after) == [('nat', 'NSLAB-DNAT')]
    assert targets(after, 'nat', 'PREROUTING') == ['NSLAB-DNAT']
    assert targets(after, 'nat', 'OUTPUT') == ['NSLAB-DNAT']
    assert after.chain_rules('filter', 'FORWARD') == []


# Repairing the skeleton

def test_forward_jumps_out_of_order_are_rewritten():
    built = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    built.rules['filter']['NSLAB-FORWARD'].reverse()
    plan = plan_firewall(built, [OWNER], BR0)
    forward = [rule for rule in jump_rules() if rule.chain == 'NSLAB-FORWARD']
    assert sorted(rule for rule, index in plan.deletes) == sorted(forward)
    assert plan.appends == forward and plan.inserts == [] and plan.new_chains == []
    after = simulate_rules(built, plan)
    assert after.chain_rules('filter', 'NSLAB-FORWARD') == forward
    assert not plan_firewall(after, [OWNER], BR0)


def test_a_duplicated_builtin_jump_is_deleted_once():
    built = converge(parse_save(USER_TEXT), [OWNER], BR0)
    ours = jump('FORWARD', 'NSLAB-FORWARD')
    built.append(ours)  # FORWARD: ours, the user's rule, ours again
    plan = plan_firewall(built, [OWNER], BR0)
    assert plan.deletes == [(ours, 2)]
    assert plan.inserts == plan.appends == []
    assert plan.commands() == ['iptables -t filter -D FORWARD -m comment --comment nslab -j NSLAB-FORWARD']
    after = simulate_rules(built, plan)
    assert targets(after, 'filter', 'FORWARD') == ['NSLAB-FORWARD', 'ACCEPT']


def test_a_missing_builtin_jump_is_inserted_again():
    built = converge(parse_save(USER_TEXT), [OWNER], BR0)
    del built.rules['filter']['FORWARD'][0]
    plan = plan_firewall(built, [OWNER], BR0)
    assert plan.inserts == [jump('FORWARD', 'NSLAB-FORWARD')]
    assert plan.deletes == plan.appends == plan.new_chains == []
    assert plan.commands() == ['iptables -t filter -I FORWARD 1 -m comment --comment nslab -j NSLAB-FORWARD']
    assert targets(simulate_rules(built, plan), 'filter', 'FORWARD') == ['NSLAB-FORWARD', 'ACCEPT']


def test_one_of_two_missing_output_jumps_is_inserted_again():
    # Only presence is checked here: the re-inserted jump goes to the top, before the
    # one that stayed, which reverses the listed order (see the report).
    built = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    built.rules['nat']['OUTPUT'] = [r for r in built.rules['nat']['OUTPUT'] if r.args[-1] != 'NSLAB-DNAT-LOCAL']
    plan = plan_firewall(built, [OWNER], BR0)
    assert plan.inserts == [jump('OUTPUT', 'NSLAB-DNAT-LOCAL')] and plan.deletes == []
    after = simulate_rules(built, plan)
    assert sorted(targets(after, 'nat', 'OUTPUT')) == ['NSLAB-DNAT', 'NSLAB-DNAT-LOCAL']
    assert not plan_firewall(after, [OWNER], BR0)


def test_a_missing_chain_is_created_with_its_jump():
    built = converge(parse_save(EMPTY_TEXT), [OWNER], BR0)
    built.chains['filter'].remove('NSLAB-INPUT')
    del built.rules['filter']['NSLAB-INPUT']
    built.rules['filter']['INPUT'] = []
    plan = plan_firewall(built, [OWNER], BR0)
    assert plan.new_chains == [('filter', 'NSLAB-INPUT')]
    assert plan.inserts == [jump('INPUT', 'NSLAB-INPUT')]
    assert plan.restore_input() == ('*filter\n-N NSLAB-INPUT\n'
                                    '-I INPUT -m comment --comment nslab -j NSLAB-INPUT\nCOMMIT\n')


# owned_rules

def test_owned_rules_are_lines_by_table_then_chain_name_in_chain_order():
    ruleset = Ruleset()
    for rule in [
        Rule('nat', 'NSLAB-POSTROUTING', ['-s', '10.0.0.0/24', '-m', 'comment', '--comment', OWNER, '-j',
                                          'MASQUERADE']),
        Rule('filter', 'NSLAB-OUTBOUND', ['-i', 'br0', '-m', 'comment', '--comment', OWNER, '-j', 'ACCEPT']),
        Rule('filter', 'NSLAB-INBOUND', ['-o', 'br0', '-m', 'comment', '--comment', OWNER, '-j', 'ACCEPT']),
        Rule('filter', 'NSLAB-INBOUND', ['-o', 'br1', '-m', 'comment', '--comment', OTHER, '-j', 'ACCEPT']),
        Rule('filter', 'NSLAB-INBOUND', ['-i', 'br0', '-m', 'comment', '--comment', OWNER, '-j', 'ACCEPT']),
        Rule('filter', 'NSLAB-FORWARD', ['-m', 'comment', '--comment', 'nslab', '-j', 'NSLAB-INBOUND']),
        Rule('filter', 'NSLAB-INBOUND', ['-s', '192.0.2.1/32', '-j', 'ACCEPT']),
        Rule('filter', 'NSLAB-INBOUND', ['-m', 'comment', '--comment', 'say "hi" to br0', '-j', 'ACCEPT']),
    ]:
        ruleset.append(rule)
    assert owned_rules(ruleset, [OWNER]) == [
        '-t filter -A NSLAB-INBOUND -o br0 -m comment --comment nslab:masquerade:br0 -j ACCEPT',
        '-t filter -A NSLAB-INBOUND -i br0 -m comment --comment nslab:masquerade:br0 -j ACCEPT',
        '-t filter -A NSLAB-OUTBOUND -i br0 -m comment --comment nslab:masquerade:br0 -j ACCEPT',
        '-t nat -A NSLAB-POSTROUTING -s 10.0.0.0/24 -m comment --comment nslab:masquerade:br0 -j MASQUERADE',
    ]
    assert owned_rules(ruleset, [OTHER, 'say "hi" to br0']) == [
        '-t filter -A NSLAB-INBOUND -o br1 -m comment --comment nslab:masquerade:br1 -j ACCEPT',
        '-t filter -A NSLAB-INBOUND -m comment --comment "say \\"hi\\" to br0" -j ACCEPT',
    ]
    assert owned_rules(ruleset, []) == []


# nat_masquerade: arguments

@pytest.mark.parametrize('item, message', [
    (dict(subnet='10.0.0.0/24'), 'bridge is required'),
    (dict(bridge='a' * 16, subnet='10.0.0.0/24'), 'longer than Linux allows'),
    (dict(bridge='br:0', subnet='10.0.0.0/24'), "contains ':'"),
    (dict(bridge='br+', subnet='10.0.0.0/24'), "bridge: interface name 'br+' ends in '+'"),
    (dict(bridge='br0'), 'bridge br0: subnet is required with state=present'),
    (dict(bridge='br0', subnet='10.0.0.1/24'), 'bridge br0: subnet 10.0.0.1/24 has host bits set;'
                                               ' did you mean 10.0.0.0/24?'),
    (dict(bridge='br0', subnet='10.0.0.0'), 'needs a prefix length, e.g. 10.0.0.0/24'),
    (dict(bridge='br0', subnet='10.0.0.0/33'), 'is not an IPv4 network in CIDR form'),
    (dict(bridge='br0', subnet='lab'), "subnet 'lab' is not an IPv4 network"),
    (dict(bridge='br0', subnet='2001:db8::/64'), 'subnet 2001:db8::/64 is IPv6; only IPv4 is supported'),
    (dict(bridge='br0', subnet='10.0.0.0/24', out_interface='br0'),
     'bridge br0: out_interface must be another interface than the bridge'),
    (dict(bridge='br0', subnet='10.0.0.0/24', out_interface='eth+'), "bridge br0: out_interface: interface name"),
    (dict(bridge='br0', subnet='10.0.0.0/24', out_interface=''), 'is empty'),
])
def test_bad_network_is_refused_with_its_reason(item, message):
    with pytest.raises(InvalidInput) as caught:
        parse_networks([item], 'present')
    assert len(caught.value.problems) == 1
    assert message in caught.value.problems[0]


def test_a_bridge_listed_twice_is_refused():
    with pytest.raises(InvalidInput) as caught:
        parse_networks([dict(bridge='br0', subnet='10.0.0.0/24'), dict(bridge='br0', subnet='10.1.0.0/24'),
                        dict(bridge='br0', subnet='10.2.0.0/24')], 'present')
    assert caught.value.problems == ['bridge br0 is listed more than once']


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as caught:
        parse_networks([dict(bridge='br+', subnet='10.0.0.0/24'),
                        dict(bridge='br1', subnet='10.1.0.1/24'),
                        dict(bridge='br2'),
                        dict(bridge='br3', subnet='10.3.0.0/24', out_interface='br3'),
                        dict(bridge='br1', subnet='10.1.0.0/24')], 'present')
    problems = caught.value.problems
    assert len(problems) == 5
    assert "'br+'" in problems[0] and 'did you mean 10.1.0.0/24' in problems[1]
    assert 'br2: subnet is required' in problems[2] and 'br3: out_interface' in problems[3]
    assert problems[4] == 'bridge br1 is listed more than once'
    assert str(caught.value) == '; '.join(problems)


def test_networks_are_normalised_and_absent_needs_no_subnet():
    assert parse_networks([dict(bridge='br0', subnet='10.0.0.0/24')], 'present') == [
        dict(bridge='br0', subnet='10.0.0.0/24', out_interface=None, icc=True, masquerade=True)]
    assert parse_networks([dict(bridge='br0', icc=None), dict(bridge='br1', icc=False)], 'absent') == [
        dict(bridge='br0', subnet=None, out_interface=None, icc=True, masquerade=True),
        dict(bridge='br1', subnet=None, out_interface=None, icc=False, masquerade=True)]


def test_masquerade_false_keeps_the_isolation_and_drops_only_the_nat_rule():
    with_nat = network_rules(dict(bridge='br0', subnet='10.0.0.0/24', out_interface=None, icc=True))
    without = network_rules(dict(bridge='br0', subnet='10.0.0.0/24', out_interface=None, icc=True,
                                 masquerade=False))
    assert [rule for rule in with_nat if rule not in without] == [
        rule for rule in with_nat if rule.table == 'nat' and rule.chain == 'NSLAB-POSTROUTING']
    assert all(rule in with_nat for rule in without) and len(without) == len(with_nat) - 1


def test_a_bridge_name_starting_with_bang_is_refused():
    with pytest.raises(InvalidInput, match='!br0'):
        parse_networks([dict(bridge='!br0', subnet='10.0.0.0/24')], 'present')


# nat_masquerade: rules and settings

def lines(rules):
    return [rule.as_line() for rule in rules]


def test_network_rules_with_icc():
    network = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24')], 'present')[0]
    assert lines(network_rules(network)) == [line % OWNER for line in [
        '-A NSLAB-POSTROUTING -s 10.0.0.0/24 ! -d 224.0.0.0/4 ! -o br0 -m comment --comment %s -j MASQUERADE',
        '-A NSLAB-INBOUND -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment %s -j ACCEPT',
        '-A NSLAB-ISOLATE ! -i br0 -o br0 -m comment --comment %s -j DROP',
        '-A NSLAB-OUTBOUND -i br0 ! -o br0 -m comment --comment %s -j ACCEPT',
        '-A NSLAB-INBOUND -i br0 -o br0 -m comment --comment %s -j ACCEPT',
    ]]
    assert [rule.table for rule in network_rules(network)] == ['nat', 'filter', 'filter', 'filter', 'filter']


def test_network_rules_without_icc_and_with_an_out_interface():
    network = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24', icc=False, out_interface='eth0')],
                             'present')[0]
    assert lines(network_rules(network)) == [line % OWNER for line in [
        '-A NSLAB-POSTROUTING -s 10.0.0.0/24 ! -d 224.0.0.0/4 -o eth0 -m comment --comment %s -j MASQUERADE',
        '-A NSLAB-INBOUND -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment %s -j ACCEPT',
        '-A NSLAB-ISOLATE ! -i br0 -o br0 -m comment --comment %s -j DROP',
        '-A NSLAB-OUTBOUND -i br0 -o eth0 -m comment --comment %s -j ACCEPT',
        '-A NSLAB-ISOLATE -i br0 -o br0 -m comment --comment %s -j DROP',
    ]]


def test_network_rules_are_what_the_plan_appends_and_all_carry_the_owner():
    rules = BR0 + BR1
    assert {rule.comment for rule in BR0} == {OWNER} and {rule.comment for rule in BR1} == {OTHER}
    assert all(rule.chain in CHAINS[rule.table] for rule in rules)


def test_masquerade_task_with_icc_needs_forwarding_only():
    networks = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24'),
                               dict(bridge='br1', subnet='10.1.0.0/24', out_interface='eth0')], 'present')
    task = masquerade_task(networks, 'present')
    assert task.owners == [OWNER, OTHER]
    assert task.rules == network_rules(networks[0]) + network_rules(networks[1])
    assert task.sysctls == [(IP_FORWARD, 1)]
    assert [setting.name for setting, value in task.sysctls] == ['net.ipv4.ip_forward']
    assert task.required == [] and task.problems == [] and task.warnings == []


def test_masquerade_task_without_icc_needs_bridge_netfilter_once():
    networks = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24', icc=False),
                               dict(bridge='br1', subnet='10.1.0.0/24', icc=False),
                               dict(bridge='br2', subnet='10.2.0.0/24')], 'present')
    task = masquerade_task(networks, 'present')
    assert task.sysctls == [(IP_FORWARD, 1), (BRIDGE_NF_CALL_IPTABLES, 1)]
    assert [setting for setting, message in task.required] == [BRIDGE_NF_CALL_IPTABLES]
    assert 'modprobe br_netfilter' in task.required[0][1]
    assert BRIDGE_NF_CALL_IPTABLES.name == 'net.bridge.bridge-nf-call-iptables'


def test_absent_masquerade_task_has_owners_and_nothing_else():
    task = masquerade_task(parse_networks([dict(bridge='br0'), dict(bridge='br1', subnet='10.1.0.0/24')],
                                          'absent'), 'absent')
    assert task.owners == [OWNER, OTHER]
    assert task.rules == task.sysctls == task.required == task.problems == []
    built = converge(parse_save(EMPTY_TEXT), [OWNER, OTHER], BR0 + BR1)
    assert our_chains(converge(built, task.owners, task.rules)) == []
