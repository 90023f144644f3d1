# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall planning without a kernel: skeleton, ownership, idempotence, port specs, conflicts."""

from __future__ import annotations


import shlex

import pytest

from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import (
    owned_rules, plan_firewall, simulate_rules)
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule, Ruleset, parse_save, save_words
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import (
    masquerade_task, parse_networks)
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort, parse_ports
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import parse_publish, plan_publish
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput

OWNER = 'nslab:masquerade:br0'
USER_TEXT = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -s 192.0.2.2/32 -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
"""


def masquerade_rules(icc=True):
    networks = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24', icc=icc)], 'present')
    return masquerade_task(networks, 'present').rules


def test_first_plan_builds_the_skeleton_and_the_rules_in_one_transaction_per_table():
    plan = plan_firewall(parse_save(USER_TEXT), [OWNER], masquerade_rules())
    text = plan.restore_input()
    assert text.count('*filter') == 1 and text.count('*nat') == 1 and text.count('COMMIT') == 2
    assert text.index('-N NSLAB-FORWARD') < text.index('-I FORWARD -m comment --comment nslab -j NSLAB-FORWARD')
    assert '-D ' not in text  # nothing of the user's is deleted
    assert plan.commands()[0] == 'iptables -t filter -N NSLAB-FORWARD'


def test_second_plan_is_empty_and_the_user_rule_stays():
    current = parse_save(USER_TEXT)
    after = simulate_rules(current, plan_firewall(current, [OWNER], masquerade_rules()))
    assert not plan_firewall(after, [OWNER], masquerade_rules())
    assert Rule('filter', 'FORWARD', ['-s', '192.0.2.2/32', '-j', 'ACCEPT']) in after.chain_rules('filter', 'FORWARD')


def test_a_task_touches_only_its_owners_and_removing_the_last_removes_the_skeleton():
    current = parse_save(USER_TEXT)
    renamed = [[a.replace(OWNER, 'nslab:masquerade:br1').replace('br0', 'br1') for a in r.args]
               for r in masquerade_rules()]
    other = [Rule(r.table, r.chain, args) for r, args in zip(masquerade_rules(), renamed)]
    both = simulate_rules(current, plan_firewall(current, [OWNER, 'nslab:masquerade:br1'], masquerade_rules() + other))
    only_br1 = simulate_rules(both, plan_firewall(both, [OWNER], []))
    assert owned_rules(only_br1, [OWNER]) == []
    assert len(owned_rules(only_br1, ['nslab:masquerade:br1'])) == len(other)
    empty = simulate_rules(only_br1, plan_firewall(only_br1, ['nslab:masquerade:br1'], []))
    assert not [chain for table in empty.chains.values() for chain in table if chain.startswith('NSLAB-')]
    assert empty.chain_rules('filter', 'FORWARD') == current.chain_rules('filter', 'FORWARD')


def test_the_user_hook_and_its_jumps_outlive_our_rules():
    current = parse_save(USER_TEXT)
    built = simulate_rules(current, plan_firewall(current, [OWNER], masquerade_rules()))
    built.append(Rule('filter', 'NSLAB-USER', ['-s', '192.0.2.7/32', '-j', 'DROP']))
    gone = simulate_rules(built, plan_firewall(built, [OWNER], []))
    assert gone.has_chain('filter', 'NSLAB-USER') and gone.has_chain('filter', 'NSLAB-FORWARD')
    assert [r.args[-1] for r in gone.chain_rules('filter', 'NSLAB-FORWARD')] == ['NSLAB-USER']
    assert not gone.has_chain('filter', 'NSLAB-INBOUND') and not gone.has_chain('nat', 'NSLAB-POSTROUTING')


def test_skeleton_jumps_out_of_order_are_rewritten_and_duplicates_dropped():
    current = parse_save(USER_TEXT)
    built = simulate_rules(current, plan_firewall(current, [OWNER], masquerade_rules()))
    jumps = built.rules['filter']['NSLAB-FORWARD']
    jumps.reverse()
    built.rules['filter']['FORWARD'].append(built.rules['filter']['FORWARD'][0])
    repaired = simulate_rules(built, plan_firewall(built, [OWNER], masquerade_rules()))
    assert [r.args[-1] for r in repaired.chain_rules('filter', 'NSLAB-FORWARD')] == [
        'NSLAB-USER', 'NSLAB-INBOUND', 'NSLAB-ISOLATE', 'NSLAB-OUTBOUND']
    assert [r.args[-1] for r in repaired.chain_rules('filter', 'FORWARD')].count('NSLAB-FORWARD') == 1


def test_icc_false_drops_inside_the_bridge_and_needs_bridge_netfilter():
    task = masquerade_task(parse_networks([dict(bridge='br0', subnet='10.0.0.0/24', icc=False)], 'present'),
                           'present')
    assert Rule('filter', 'NSLAB-ISOLATE', ['-i', 'br0', '-o', 'br0', '-m', 'comment', '--comment', OWNER,
                                            '-j', 'DROP']) in task.rules
    assert [setting.name for setting, unused in task.required] == ['net.bridge.bridge-nf-call-iptables']


@pytest.mark.parametrize('items, message', [
    ([dict(bridge='br0', subnet='10.0.0.1/24')], 'did you mean 10.0.0.0/24'),
    ([dict(bridge='br+', subnet='10.0.0.0/24')], 'wildcard'),
    ([dict(bridge='br0')], 'subnet is required'),
    ([dict(bridge='br0', subnet='10.0.0.0/24', out_interface='br0')], 'another interface'),
    ([dict(bridge='br0', subnet='10.0.0.0/24'), dict(bridge='br0', subnet='10.1.0.0/24')], 'more than once'),
])
def test_bad_networks_are_refused(items, message):
    with pytest.raises(InvalidInput, match=message):
        parse_networks(items, 'present')


def test_port_specs_follow_docker():
    assert parse_ports('8000:80', '10.0.0.1') == [PublishedPort('tcp', None, 8000, '10.0.0.1', 80)]
    assert parse_ports('0.0.0.0:53:53/udp', 'd') == [PublishedPort('udp', None, 53, 'd', 53)]
    assert [m.host_port for m in parse_ports('8100-8102:9100-9102', 'd')] == [8100, 8101, 8102]
    assert parse_ports('127.0.0.1:80:80', 'd')[0].loopback_only
    for bad in ('80', '::80', '8000-8001:80', '0:80', '80:80/sctp', '[::1]:80:80', 'x'):
        with pytest.raises(InvalidInput):
            parse_ports(bad, 'd')


def test_overlapping_host_ports_are_refused_identical_ones_merged():
    with pytest.raises(InvalidInput, match='published twice'):
        parse_publish([dict(bridge='br0', destination='10.0.0.1', ports=['8000:80']),
                       dict(bridge='br0', destination='10.0.0.2', ports=['127.0.0.1:8000:80'])], 'present')
    wanted = parse_publish([dict(bridge='br0', destination='10.0.0.1', ports=['8000:80', '8000:80'])], 'present')
    assert len(wanted['br0']['10.0.0.1']) == 1


def test_publish_keeps_other_destinations_and_refuses_their_ports():
    current = Ruleset()
    first = plan_publish(parse_publish([dict(bridge='br0', destination='10.0.0.1', ports=['8000:80'])], 'present'),
                         'present', {'br0': ['10.0.0.0/24']}, current, False)
    current = simulate_rules(current, plan_firewall(current, first.owners, first.rules))
    clash = plan_publish(parse_publish([dict(bridge='br0', destination='10.0.0.2', ports=['8000:80'])], 'present'),
                         'present', {'br0': ['10.0.0.0/24']}, current, False)
    assert clash.problems and 'destination 10.0.0.1' in clash.problems[0]
    absent = plan_publish(parse_publish([dict(bridge='br0')], 'absent'), 'absent', {'br0': None}, current, False)
    assert 'nslab:publish:br0:10.0.0.1' in absent.owners and absent.rules == []


@pytest.mark.parametrize('line', [
    '-A NSLAB-DNAT -p tcp -m tcp --dport 10000 -m comment --comment "nslab:publish:br0:10.0.0.2" -j DNAT',
    '-A X -m comment --comment "a \\"q\\" b\\\\c" -j ACCEPT',
    '-A X -m comment --comment "a\\b \\$x" -j ACCEPT',
    "-A X -m comment --comment 'single quoted' -j ACCEPT",
    '-A X -s 1.2.3.4/32 ! -d 5.6.7.8 -j RETURN',
    '-A X -m comment --comment "" -j ACCEPT',
    '-A X -m comment --comment "x"y -j ACCEPT',
    '-A X --foo a\\ b',
])
def test_save_words_split_as_shlex_does(line):
    assert save_words(line) == shlex.split(line)
