# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""port_publish's planning without a kernel: Docker ``-p`` specs, conflicts, and the task's rules.

Covered: parse_ports (defaults, host addresses, ranges, every refusal), PublishedPort's
overlaps / reaches_loopback / loopback_only, parse_publish (conflicts named, identical
duplicates merged, state=absent ignoring ports), and plan_publish against current rules
(other destinations kept and guarded, loopback handling, missing bridges, removal, rules
deleted by hand, exclusive, and the mappings whose conntrack flows go).
"""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import (
    owned_rules, plan_firewall, simulate_rules)
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Ruleset
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import IP_FORWARD, route_localnet
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort, parse_ports
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import (
    owned_destinations, parse_publish, plan_publish, published)
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput

DEST = '10.0.0.2'
BRIDGES = {'br0': ['10.0.0.0/24']}
BR0 = 'nslab:publish:br0'
OWNER_2 = 'nslab:publish:br0:10.0.0.2'
OWNER_3 = 'nslab:publish:br0:10.0.0.3'


def task(items, state='present', bridges=None, current=None, check_mode=False, exclusive=False):
    return plan_publish(parse_publish(items, state, exclusive), state, BRIDGES if bridges is None else bridges,
                        Ruleset() if current is None else current, check_mode, exclusive)


def converge(current, firewall_task):
    assert firewall_task.problems == []
    return simulate_rules(current, plan_firewall(current, firewall_task.owners, firewall_task.rules))


def lines(rules, chain=None):
    return [rule.as_line() for rule in rules if chain is None or rule.chain == chain]


def publish(current, destination, *ports):
    return converge(current, task([dict(bridge='br0', destination=destination, ports=list(ports))],
                                  current=current))


# parse_ports

@pytest.mark.parametrize('spec, mappings', [
    ('8000:8000', [PublishedPort('tcp', None, 8000, DEST, 8000)]),
    ('8000:80', [PublishedPort('tcp', None, 8000, DEST, 80)]),
    ('127.0.0.1:8000:80', [PublishedPort('tcp', '127.0.0.1', 8000, DEST, 80)]),
    ('0.0.0.0:80:80', [PublishedPort('tcp', None, 80, DEST, 80)]),
    ('5353:53/udp', [PublishedPort('udp', None, 5353, DEST, 53)]),
    ('192.0.2.1:53:53/tcp', [PublishedPort('tcp', '192.0.2.1', 53, DEST, 53)]),
    (' 1:65535 ', [PublishedPort('tcp', None, 1, DEST, 65535)]),
    ('8100-8102:9100-9102', [PublishedPort('tcp', None, 8100, DEST, 9100), PublishedPort('tcp', None, 8101, DEST, 9101),
                             PublishedPort('tcp', None, 8102, DEST, 9102)]),
    ('127.0.0.1:7000-7001:80-81/udp', [PublishedPort('udp', '127.0.0.1', 7000, DEST, 80),
                                       PublishedPort('udp', '127.0.0.1', 7001, DEST, 81)]),
    ('9000-9000:90', [PublishedPort('tcp', None, 9000, DEST, 90)]),
])
def test_port_spec(spec, mappings):
    assert parse_ports(spec, DEST) == mappings


def test_mapping_fields_and_spec():
    mapping = parse_ports('127.0.0.1:8000:80/udp', DEST)[0]
    assert (mapping.proto, mapping.host_ip, mapping.host_port, mapping.destination, mapping.container_port) == (
        'udp', '127.0.0.1', 8000, DEST, 80)
    assert mapping.as_spec() == '127.0.0.1:8000:80/udp -> 10.0.0.2'
    assert parse_ports('8000:80', DEST)[0].as_spec() == '8000:80/tcp -> 10.0.0.2'


@pytest.mark.parametrize('spec, message', [
    ('8000-8001:9000', 'the host range has 2 ports and the container range 1'),
    ('8000:9000-9002', 'the host range has 1 ports and the container range 3'),
    ('0:80', 'ports must be 1..65535'),
    ('80:0', 'ports must be 1..65535'),
    ('65536:80', 'ports must be 1..65535'),
    ('80:65536', 'ports must be 1..65535'),
    ('8002-8000:80-82', 'ports must be 1..65535, ranges low-high'),
    ('80', 'is not [host_ip:]host_port[-end]:container_port[-end][/tcp|udp]'),
    ('::80', 'IPv4 only, host port required'),
    (':80', 'IPv4 only'),
    ('[::1]:80:80', 'IPv4 only'),
    ('::1:80:80', 'IPv4 only'),
    ('fe80::1:80:80', 'IPv4 only'),
    ('80:80/sctp', 'protocol sctp is not tcp or udp'),
    ('80:80/', 'IPv4 only'),
    ('1.2.3:80:80', "host address '1.2.3' is not an IPv4 address"),
    ('256.0.0.1:80:80', 'is not an IPv4 address'),
    ('http', 'IPv4 only'),
    ('80:http', 'IPv4 only'),
    ('', 'IPv4 only'),
    (8080, 'IPv4 only'),
    (None, 'IPv4 only'),
])
def test_bad_port_spec(spec, message):
    with pytest.raises(InvalidInput) as caught:
        parse_ports(spec, DEST)
    assert len(caught.value.problems) == 1
    assert message in caught.value.problems[0] and repr(spec) in caught.value.problems[0]


# PublishedPort

def mapping(host_ip, port=8000, proto='tcp', destination=DEST):
    return PublishedPort(proto, host_ip, port, destination, 80)


@pytest.mark.parametrize('one, other, overlap', [
    (mapping(None), mapping(None, destination='10.0.0.3'), True),
    (mapping(None), mapping('127.0.0.1'), True),
    (mapping('192.0.2.1'), mapping(None), True),
    (mapping('127.0.0.1'), mapping('127.0.0.1', destination='10.0.0.3'), True),
    (mapping('127.0.0.1'), mapping('127.0.0.2'), False),
    (mapping('127.0.0.1'), mapping('192.0.2.1'), False),
    (mapping(None), mapping(None, proto='udp'), False),
    (mapping(None), mapping(None, port=8001), False),
])
def test_overlaps_is_same_port_and_protocol_on_a_shared_address(one, other, overlap):
    assert one.overlaps(other) is overlap
    assert other.overlaps(one) is overlap


@pytest.mark.parametrize('host_ip, reaches, only', [
    (None, True, False),
    ('127.0.0.1', True, True),
    ('127.5.6.7', True, True),
    ('192.0.2.1', False, False),
    ('10.0.0.1', False, False),
])
def test_loopback_properties(host_ip, reaches, only):
    assert mapping(host_ip).reaches_loopback is reaches
    assert mapping(host_ip).loopback_only is only


# parse_publish

def test_parse_publish_groups_by_bridge_and_destination():
    wanted = parse_publish([dict(bridge='br0', destination='10.0.0.2', ports=['8000:80', '5353:53/udp']),
                            dict(bridge='br0', destination='10.0.0.3', ports=['8001:80']),
                            dict(bridge='br1', destination='10.1.0.2', ports=[])], 'present')
    assert wanted == {
        'br0': {'10.0.0.2': [PublishedPort('tcp', None, 8000, '10.0.0.2', 80), PublishedPort('udp', None, 5353, '10.0.0.2', 53)],
                '10.0.0.3': [PublishedPort('tcp', None, 8001, '10.0.0.3', 80)]},
        'br1': {'10.1.0.2': []},
    }


@pytest.mark.parametrize('first, second', [
    ('8000:80', '8000:81'),
    ('8000:80', '127.0.0.1:8000:80'),
    ('0.0.0.0:8000:80', '192.0.2.1:8000:80'),
    ('127.0.0.1:8000:80', '127.0.0.1:8000:80'),
    ('5353:53/udp', '5353:5353/udp'),
])
def test_two_destinations_on_the_same_host_port_are_refused_naming_both(first, second):
    with pytest.raises(InvalidInput) as caught:
        parse_publish([dict(bridge='br0', destination='10.0.0.2', ports=[first]),
                       dict(bridge='br0', destination='10.0.0.3', ports=[second])], 'present')
    [problem] = caught.value.problems
    one, other = parse_ports(first, '10.0.0.2')[0], parse_ports(second, '10.0.0.3')[0]
    assert problem == 'host port %d/%s is published twice: %s and %s' % (
        one.host_port, one.proto, one.as_spec(), other.as_spec())


def test_one_destination_cannot_take_one_host_port_twice():
    with pytest.raises(InvalidInput, match='published twice: 8000:80/tcp -> 10.0.0.2 and 8000:81/tcp -> 10.0.0.2'):
        parse_publish([dict(bridge='br0', destination=DEST, ports=['8000:80', '8000:81'])], 'present')


def test_conflicts_across_bridges_are_refused():
    with pytest.raises(InvalidInput, match='10.0.0.2 and 127.0.0.1:8000:80/tcp -> 10.1.0.2'):
        parse_publish([dict(bridge='br0', destination='10.0.0.2', ports=['8000:80']),
                       dict(bridge='br1', destination='10.1.0.2', ports=['127.0.0.1:8000:80'])], 'present')


@pytest.mark.parametrize('ports', [
    ['8000:80', '8000:80/udp'],
    ['127.0.0.1:8000:80', '192.0.2.1:8000:80'],
    ['8000:80', '8001:80'],
])
def test_different_addresses_protocols_or_ports_do_not_conflict(ports):
    wanted = parse_publish([dict(bridge='br0', destination=DEST, ports=ports)], 'present')
    assert len(wanted['br0'][DEST]) == 2


def test_identical_duplicates_are_merged_not_refused():
    wanted = parse_publish([dict(bridge='br0', destination=DEST, ports=['8000:80', '8000:80/tcp', '0.0.0.0:8000:80']),
                            dict(bridge='br0', destination=DEST, ports=['8000:80', '8100-8101:90-91', '8101:91'])],
                           'present')
    assert wanted['br0'][DEST] == [mapping(None, 8000), PublishedPort('tcp', None, 8100, DEST, 90),
                                   PublishedPort('tcp', None, 8101, DEST, 91)]


def test_every_problem_of_every_item_is_reported():
    with pytest.raises(InvalidInput) as caught:
        parse_publish([dict(bridge='br0'),
                       dict(bridge='br+', destination=DEST, ports=['80:80']),
                       dict(bridge='br0', destination='2001:db8::2', ports=['80:80']),
                       dict(bridge='br0', destination='lab', ports=['80:80']),
                       dict(bridge='br0', destination=DEST, ports=['80', '80:80/sctp', '81:81']),
                       dict(destination=DEST)], 'present')
    assert caught.value.problems == [
        'bridge br0: destination is required with state=present unless exclusive is true',
        "bridge: interface name 'br+' ends in '+', which iptables reads as a wildcard",
        'bridge br0: destination 2001:db8::2 is IPv6; only IPv4 is supported',
        "bridge br0: destination 'lab' is not an IPv4 address",
        "bridge br0, destination 10.0.0.2: port '80' is not [host_ip:]host_port[-end]:container_port[-end]"
        "[/tcp|udp] (IPv4 only, host port required)",
        "bridge br0, destination 10.0.0.2: port '80:80/sctp': protocol sctp is not tcp or udp",
        'bridge is required',
    ]


def test_absent_ignores_ports_even_bad_ones():
    assert parse_publish([dict(bridge='br0', destination=DEST, ports=['nonsense', '8000:80']),
                          dict(bridge='br1')], 'absent') == {'br0': {DEST: []}, 'br1': {}}


def test_a_bridge_name_starting_with_bang_is_refused():
    with pytest.raises(InvalidInput, match='!br0'):
        parse_publish([dict(bridge='!br0', destination=DEST, ports=['8000:80'])], 'present')


# plan_publish: rules and settings

def test_first_publish_has_the_destination_rules_and_the_bridge_rules():
    first = task([dict(bridge='br0', destination=DEST, ports=['8000:80/tcp'])])
    assert first.owners == [BR0, OWNER_2]
    assert lines(first.rules) == [
        '-A NSLAB-DNAT -p tcp -m tcp --dport 8000 -m comment --comment %s -j DNAT --to-destination 10.0.0.2:80'
        % OWNER_2,
        '-A NSLAB-INBOUND -d 10.0.0.2/32 -o br0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT'
        ' -m comment --comment %s -j ACCEPT' % OWNER_2,
        '-A NSLAB-POSTROUTING -s 10.0.0.0/24 -o br0 -m conntrack --ctstate DNAT -m comment --comment %s'
        ' -j MASQUERADE' % BR0,
        '-A NSLAB-INBOUND -o br0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment %s -j ACCEPT'
        % BR0,
        '-A NSLAB-ISOLATE ! -i br0 -o br0 -m comment --comment %s -j DROP' % BR0,
        '-A NSLAB-OUTBOUND -i br0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment %s -j ACCEPT'
        % BR0,
        '-A NSLAB-POSTROUTING -s 127.0.0.0/8 -o br0 -m comment --comment %s -j MASQUERADE' % BR0,
        '-A NSLAB-INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 -i br0 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT'
        ' -m comment --comment %s -j DROP' % BR0,
    ]
    assert first.sysctls == [(IP_FORWARD, 1), (route_localnet('br0'), 1)]
    assert first.problems == first.warnings == first.required == []


def test_a_loopback_mapping_is_dnated_in_output_only_and_needs_route_localnet():
    local = task([dict(bridge='br0', destination=DEST, ports=['127.0.0.1:8000:80'])])
    assert lines(local.rules, 'NSLAB-DNAT-LOCAL') == [
        '-A NSLAB-DNAT-LOCAL -d 127.0.0.1/32 -p tcp -m tcp --dport 8000 -m comment --comment %s -j DNAT'
        ' --to-destination 10.0.0.2:80' % OWNER_2]
    assert lines(local.rules, 'NSLAB-DNAT') == []
    assert (route_localnet('br0'), 1) in local.sysctls
    assert route_localnet('br0').name == 'net.ipv4.conf.br0.route_localnet'
    assert lines(local.rules, 'NSLAB-POSTROUTING')[-1] == (
        '-A NSLAB-POSTROUTING -s 127.0.0.0/8 -o br0 -m comment --comment %s -j MASQUERADE' % BR0)
    assert len(lines(local.rules, 'NSLAB-INPUT')) == 1


def test_no_loopback_mapping_turns_route_localnet_off_and_leaves_out_the_loopback_rules():
    remote = task([dict(bridge='br0', destination=DEST, ports=['192.0.2.1:8000:80', '192.0.2.1:5353:53/udp'])])
    assert lines(remote.rules, 'NSLAB-DNAT') == [
        '-A NSLAB-DNAT -d 192.0.2.1/32 -p tcp -m tcp --dport 8000 -m comment --comment %s -j DNAT'
        ' --to-destination 10.0.0.2:80' % OWNER_2,
        '-A NSLAB-DNAT -d 192.0.2.1/32 -p udp -m udp --dport 5353 -m comment --comment %s -j DNAT'
        ' --to-destination 10.0.0.2:53' % OWNER_2]
    assert remote.sysctls == [(IP_FORWARD, 1), (route_localnet('br0'), 0)]
    assert not [line for line in lines(remote.rules) if '127.0.0.0/8' in line]
    assert lines(remote.rules, 'NSLAB-INPUT') == lines(remote.rules, 'NSLAB-DNAT-LOCAL') == []


def test_every_subnet_of_the_bridge_gets_a_hairpin_rule():
    both = task([dict(bridge='br0', destination=DEST, ports=['192.0.2.1:8000:80'])],
                bridges={'br0': ['10.0.0.0/24', '172.16.0.0/16']})
    assert [line.split()[3] for line in lines(both.rules, 'NSLAB-POSTROUTING')] == ['10.0.0.0/24', '172.16.0.0/16']


def test_a_destination_outside_the_bridge_subnets_is_a_problem():
    outside = task([dict(bridge='br0', destination='10.9.0.2', ports=['8000:80'])])
    assert outside.problems == ['bridge br0: destination 10.9.0.2 is in none of its subnets (10.0.0.0/24)']
    bare = task([dict(bridge='br0', destination=DEST, ports=['8000:80'])], bridges={'br0': []})
    assert bare.problems == ['bridge br0: destination 10.0.0.2 is in none of its subnets (it has no IPv4 address)']


def test_publishing_converges():
    current = publish(Ruleset(), DEST, '8000:80', '127.0.0.1:8001:81/udp')
    again = task([dict(bridge='br0', destination=DEST, ports=['8000:80', '127.0.0.1:8001:81/udp'])],
                 current=current)
    assert not plan_firewall(current, again.owners, again.rules)
    assert published(current) == {('br0', DEST): [mapping(None), PublishedPort('udp', '127.0.0.1', 8001, DEST, 81)]}


# plan_publish: other destinations of the bridge

def test_another_destination_keeps_its_mappings_and_the_shared_loopback_rules():
    current = publish(Ruleset(), '10.0.0.3', '8000:80')
    second = task([dict(bridge='br0', destination=DEST, ports=['192.0.2.1:9000:90'])], current=current)
    assert second.owners == [BR0, OWNER_2]
    assert second.problems == []
    # 10.0.0.3 listens on 127.0.0.1 too (no host address), so the bridge keeps its loopback rules.
    assert (route_localnet('br0'), 1) in second.sysctls
    assert len(lines(second.rules, 'NSLAB-INPUT')) == 1
    after = converge(current, second)
    assert owned_rules(after, [OWNER_3]) == owned_rules(current, [OWNER_3])
    assert published(after) == {('br0', '10.0.0.3'): [PublishedPort('tcp', None, 8000, '10.0.0.3', 80)],
                                ('br0', DEST): [PublishedPort('tcp', '192.0.2.1', 9000, DEST, 90)]}
    assert not plan_firewall(after, second.owners, second.rules)


def test_the_port_of_another_destination_is_refused_naming_it():
    current = publish(Ruleset(), '10.0.0.3', '8000:80')
    clash = task([dict(bridge='br0', destination=DEST, ports=['127.0.0.1:8000:80'])], current=current)
    assert clash.problems == ['host port 8000/tcp is published twice: 127.0.0.1:8000:80/tcp -> 10.0.0.2 and'
                              ' 8000:80/tcp -> 10.0.0.3 by destination 10.0.0.3']


def test_a_destination_may_move_its_own_port():
    current = publish(Ruleset(), DEST, '8000:80')
    moved = task([dict(bridge='br0', destination=DEST, ports=['8000:81'])], current=current)
    assert moved.problems == []
    after = converge(current, moved)
    assert published(after) == {('br0', DEST): [PublishedPort('tcp', None, 8000, DEST, 81)]}


def test_the_port_of_another_bridge_is_refused():
    current = converge(Ruleset(), task([dict(bridge='br1', destination='10.1.0.2', ports=['8000:80'])],
                                       bridges={'br1': ['10.1.0.0/24']}))
    clash = task([dict(bridge='br0', destination=DEST, ports=['8000:80'])], current=current)
    assert clash.problems == ['host port 8000/tcp is published twice: 8000:80/tcp -> 10.0.0.2 and'
                              ' 8000:80/tcp -> 10.1.0.2 by destination 10.1.0.2']


def test_the_same_port_and_destination_under_another_bridge_is_refused():
    both = {'br0': ['10.0.0.0/24'], 'br1': ['10.0.0.0/24']}
    current = converge(Ruleset(), task([dict(bridge='br1', destination=DEST, ports=['8000:80'])], bridges=both))
    clash = task([dict(bridge='br0', destination=DEST, ports=['8000:80'])], bridges=both, current=current)
    assert clash.problems


# plan_publish: removal

def test_absent_without_destination_removes_every_destination_of_the_bridge():
    current = publish(publish(Ruleset(), '10.0.0.3', '8000:80'), DEST, '127.0.0.1:9000:90')
    current = converge(current, task([dict(bridge='br1', destination='10.1.0.2', ports=['7000:70'])],
                                     bridges={'br1': ['10.1.0.0/24']}))
    gone = task([dict(bridge='br0')], state='absent', current=current)
    assert gone.owners[0] == BR0 and sorted(gone.owners[1:]) == [OWNER_2, OWNER_3]
    assert gone.rules == [] and gone.problems == []
    assert gone.sysctls == [(route_localnet('br0'), 0)]
    after = converge(current, gone)
    assert owned_rules(after, gone.owners) == []
    assert list(published(after)) == [('br1', '10.1.0.2')]


def test_absent_for_a_missing_bridge_has_no_settings_and_no_problem():
    current = publish(Ruleset(), DEST, '8000:80')
    gone = task([dict(bridge='br0')], state='absent', bridges={'br0': None}, current=current)
    assert gone.rules == gone.sysctls == gone.problems == gone.warnings == []
    after = converge(current, gone)
    assert [chain for table in after.chains.values() for chain in table if chain.startswith('NSLAB-')] == []


def test_absent_for_one_destination_keeps_the_others_and_the_hairpin():
    current = publish(publish(Ruleset(), '10.0.0.3', '192.0.2.1:8000:80'), DEST, '9000:90')
    one = task([dict(bridge='br0', destination=DEST, ports=['ignored'])], state='absent', bridges={'br0': None},
               current=current)
    assert one.owners == [BR0, OWNER_2]
    # The bridge is gone: its hairpin rule is rebuilt from the subnet the current rules name.
    assert lines(one.rules, 'NSLAB-POSTROUTING') == [
        '-A NSLAB-POSTROUTING -s 10.0.0.0/24 -o br0 -m conntrack --ctstate DNAT -m comment --comment %s'
        ' -j MASQUERADE' % BR0]
    assert one.sysctls == [(IP_FORWARD, 1)]
    after = converge(current, one)
    assert list(published(after)) == [('br0', '10.0.0.3')]
    assert not [line for line in owned_rules(after, [BR0]) if '127.0.0.0/8' in line]


# plan_publish: a bridge that does not exist

def test_a_missing_bridge_is_a_problem_in_a_real_run():
    missing = task([dict(bridge='br0', destination=DEST, ports=['8000:80'])], bridges={'br0': None})
    assert missing.problems == ['bridge br0 does not exist: create it (nslab.net.bridge) first']
    assert missing.warnings == []


def test_a_missing_bridge_is_a_warning_in_check_mode_and_the_hairpin_is_left_out():
    missing = task([dict(bridge='br0', destination=DEST, ports=['8000:80'])], bridges={'br0': None},
                   check_mode=True)
    assert missing.problems == []
    assert len(missing.warnings) == 1 and 'bridge br0 does not exist yet' in missing.warnings[0]
    assert lines(missing.rules, 'NSLAB-POSTROUTING') == [
        '-A NSLAB-POSTROUTING -s 127.0.0.0/8 -o br0 -m comment --comment %s -j MASQUERADE' % BR0]
    assert missing.sysctls == [(IP_FORWARD, 1)]
    assert len(lines(missing.rules, 'NSLAB-DNAT')) == 1


# plan_publish: rules deleted by hand

def without(current, table, chain, owner):
    """``current`` with the rules of ``owner`` in one chain deleted, as ``iptables -D`` would."""
    edited = current.copy()
    edited.rules[table][chain] = [rule for rule in edited.rules[table][chain] if rule.comment != owner]
    return edited


def nslab_chains(ruleset):
    return [chain for table in ruleset.chains.values() for chain in table if chain.startswith('NSLAB-')]


def test_owned_destinations_are_read_from_every_chain():
    current = publish(publish(Ruleset(), '10.0.0.3', '8000:80'), DEST, '9000:90')
    assert owned_destinations(current) == {'br0': {DEST, '10.0.0.3'}}
    assert owned_destinations(without(current, 'nat', 'NSLAB-DNAT', OWNER_3)) == {'br0': {DEST, '10.0.0.3'}}
    bare = without(without(current, 'nat', 'NSLAB-DNAT', OWNER_3), 'filter', 'NSLAB-INBOUND', OWNER_3)
    assert owned_destinations(bare) == {'br0': {DEST}}


def test_absent_removes_a_destination_whose_dnat_rule_was_deleted_by_hand():
    current = without(publish(publish(Ruleset(), '10.0.0.3', '8000:80'), DEST, '9000:90'), 'nat', 'NSLAB-DNAT',
                      OWNER_3)
    assert list(published(current)) == [('br0', DEST)]  # the DNAT chains alone miss 10.0.0.3
    gone = task([dict(bridge='br0')], state='absent', current=current)
    assert gone.owners == [BR0, OWNER_2, OWNER_3]
    after = converge(current, gone)
    assert nslab_chains(after) == []
    again = task([dict(bridge='br0')], state='absent', current=after)
    assert not plan_firewall(after, again.owners, again.rules)


# plan_publish: exclusive

def test_without_exclusive_a_moved_address_clashes_with_its_old_self():
    current = publish(Ruleset(), '10.0.0.1', '8000:8000')
    moved = task([dict(bridge='br0', destination='10.0.0.11', ports=['8000:8000'])], current=current)
    assert moved.problems == ['host port 8000/tcp is published twice: 8000:8000/tcp -> 10.0.0.11 and'
                              ' 8000:8000/tcp -> 10.0.0.1 by destination 10.0.0.1']


def test_exclusive_moves_a_port_to_the_new_address_in_one_run():
    current = publish(Ruleset(), '10.0.0.1', '8000:8000')
    moved = task([dict(bridge='br0', destination='10.0.0.11', ports=['8000:8000'])], current=current,
                 exclusive=True)
    assert moved.problems == []
    assert moved.owners == [BR0, 'nslab:publish:br0:10.0.0.11', 'nslab:publish:br0:10.0.0.1']
    assert moved.flows == [PublishedPort('tcp', None, 8000, '10.0.0.1', 8000)]
    after = converge(current, moved)
    assert published(after) == {('br0', '10.0.0.11'): [PublishedPort('tcp', None, 8000, '10.0.0.11', 8000)]}
    assert owned_rules(after, ['nslab:publish:br0:10.0.0.1']) == []
    again = task([dict(bridge='br0', destination='10.0.0.11', ports=['8000:8000'])], current=after, exclusive=True)
    assert not plan_firewall(after, again.owners, again.rules) and again.flows == []


def test_exclusive_removes_a_destination_outside_a_subnet_that_changed():
    current = publish(Ruleset(), '10.0.0.1', '8000:8000', '5353:53/udp')
    moved = task([dict(bridge='br0', destination='10.1.0.11', ports=['8000:8000'])], current=current,
                 bridges={'br0': ['10.1.0.0/24']}, exclusive=True)
    assert moved.problems == []
    assert sorted(moved.flows) == [PublishedPort('tcp', None, 8000, '10.0.0.1', 8000),
                                   PublishedPort('udp', None, 5353, '10.0.0.1', 53)]
    after = converge(current, moved)
    assert [line.split()[3] for line in lines(after.rules['nat']['NSLAB-POSTROUTING'])
            if '--ctstate DNAT' in line] == ['10.1.0.0/24']
    assert list(published(after)) == [('br0', '10.1.0.11')]


def test_exclusive_leaves_other_bridges_alone_and_still_refuses_their_ports():
    two = {'br0': ['10.0.0.0/24'], 'br1': ['10.1.0.0/24']}
    current = converge(publish(Ruleset(), '10.0.0.3', '8000:80'),
                       task([dict(bridge='br1', destination='10.1.0.2', ports=['9000:90'])], bridges=two))
    mine = task([dict(bridge='br0', destination=DEST, ports=['7000:70'])], bridges=two, current=current,
                exclusive=True)
    assert mine.owners == [BR0, OWNER_2, OWNER_3] and mine.problems == []
    after = converge(current, mine)
    assert sorted(published(after)) == [('br0', DEST), ('br1', '10.1.0.2')]
    clash = task([dict(bridge='br0', destination=DEST, ports=['9000:90'])], bridges=two, current=after,
                 exclusive=True)
    assert clash.problems == ['host port 9000/tcp is published twice: 9000:90/tcp -> 10.0.0.2 and'
                              ' 9000:90/tcp -> 10.1.0.2 by destination 10.1.0.2']


def test_exclusive_with_a_bridge_alone_unpublishes_everything_there():
    with pytest.raises(InvalidInput, match='destination is required with state=present unless exclusive'):
        parse_publish([dict(bridge='br0')], 'present')
    assert parse_publish([dict(bridge='br0'), dict(bridge='br0', destination=DEST, ports=['80:80'])], 'present',
                         exclusive=True) == {'br0': {DEST: [PublishedPort('tcp', None, 80, DEST, 80)]}}
    current = publish(publish(Ruleset(), '10.0.0.3', '8000:80'), DEST, '127.0.0.1:9000:90')
    nothing = task([dict(bridge='br0')], current=current, bridges={'br0': None}, exclusive=True)
    assert nothing.problems == nothing.warnings == [] and nothing.rules == []
    assert nothing.owners == [BR0, OWNER_2, OWNER_3]
    assert nslab_chains(converge(current, nothing)) == []


def test_exclusive_means_nothing_with_state_absent():
    current = publish(publish(Ruleset(), '10.0.0.3', '8000:80'), DEST, '9000:90')
    one = task([dict(bridge='br0', destination=DEST)], state='absent', current=current, exclusive=True)
    assert one.owners == [BR0, OWNER_2]
    assert list(published(converge(current, one))) == [('br0', '10.0.0.3')]


def test_removal_does_not_check_subnets():
    current = publish(Ruleset(), DEST, '8000:80')
    for items in ([dict(bridge='br0')], [dict(bridge='br0', destination=DEST)]):
        gone = task(items, state='absent', current=current, bridges={'br0': ['10.1.0.0/24']})
        assert gone.problems == []
        assert nslab_chains(converge(current, gone)) == []
    emptied = task([dict(bridge='br0', destination=DEST, ports=[])], current=current,
                   bridges={'br0': ['10.1.0.0/24']})
    assert emptied.problems == [] and emptied.flows == [mapping(None)]


# plan_publish: the mappings whose flows go

def test_flows_are_the_mappings_that_go_or_change_and_nothing_else():
    current = publish(Ruleset(), DEST, '8000:80', '5353:53/udp', '127.0.0.1:9000:90')
    changed = task([dict(bridge='br0', destination=DEST, ports=['8000:81', '5353:53/udp'])], current=current)
    assert changed.flows == [mapping(None), PublishedPort('tcp', '127.0.0.1', 9000, DEST, 90)]
    same = task([dict(bridge='br0', destination=DEST, ports=['8000:80', '5353:53/udp', '127.0.0.1:9000:90'])],
                current=current)
    assert same.flows == []
    gone = task([dict(bridge='br0')], state='absent', current=current)
    assert gone.flows == published(current)[('br0', DEST)]
