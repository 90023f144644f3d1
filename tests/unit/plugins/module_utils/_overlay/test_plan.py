# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VXLAN overlay's planning: its argument, its place in the lab's plan and record, the
device's entries and commands, its rules, and what it refuses to take over."""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import plan_firewall
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Ruleset, parse_save
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import claimed, final, ownership_problems, removals, verify
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._overlay import plan as op
from ansible_collections.nslab.net.plugins.module_utils._overlay.adapter import parse_device, parse_entries

DEFAULTS = dict(state='present', networks=[], bridge='br0', subnet='10.0.1.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[dict(name='ns1')])
HOST = {'host': {'links': [dict(name='eth0', kind='veth', mtu=1500, addresses=['198.51.100.11/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}}, 'namespaces': {}}
PEERS = [dict(name='h2', address='198.51.100.12', networks=[dict(network='br0', subnet='10.0.2.0/24')]),
         dict(name='h3', address='198.51.100.13', networks=[dict(network='br0', subnet='10.0.3.0/24'),
                                                            dict(network='other', subnet='10.9.3.0/24')])]


def overlay(**extra):
    return dict(dict(vni=42, port=4789, address=None, peers=PEERS), **extra)


def plan_of(owned=None, host=None, **variables):
    return lab_plan(lab_spec(dict(DEFAULTS, **dict(dict(overlay=overlay()), **variables))), host or HOST, owned)


def problems_of(**variables):
    with pytest.raises(InvalidInput) as caught:
        plan_of(**variables)
    return caught.value.problems


def test_the_vtep_mac_is_the_underlay_address_in_a_locally_administered_mac():
    assert op.vtep_mac('198.51.100.12') == '02:4e:c6:33:64:0c'
    assert op.device_name(16777215) == 'nslab.16777215' and len(op.device_name(16777215)) <= 15


@pytest.mark.parametrize('raw,problem', [
    (dict(vni=0), 'vni 0 is not a VXLAN network id'),
    (dict(vni=1 << 24), 'is not a VXLAN network id'),
    (dict(vni=42, port=70000), 'port 70000 is not a UDP port'),
    (dict(vni=42, address='fe80::1'), 'is not a unicast IPv4 address'),
    (dict(vni=42, peers=[dict(name='a', address='x')]), "address 'x' is not an IPv4 address"),
    (dict(vni=42, peers=[dict(name='a', address='192.0.2.1'), dict(name='a', address='192.0.2.2')]),
     'peer a is listed more than once'),
    (dict(vni=42, peers=[dict(name='a', address='192.0.2.1'), dict(name='b', address='192.0.2.1')]),
     'underlay address 192.0.2.1 is given to more than one host'),
])
def test_a_bad_overlay_fails_naming_the_problem(raw, problem):
    with pytest.raises(InvalidInput) as caught:
        op.overlay_spec(raw)
    assert any(problem in text for text in caught.value.problems), caught.value.problems


def test_subnets_that_overlap_across_hosts_name_both_hosts():
    peer = dict(name='h2', address='198.51.100.12', networks=[dict(network='br0', subnet='10.0.1.128/25')])
    problems = problems_of(overlay=overlay(peers=[peer]))
    assert problems == ['the lab subnets of this host (10.0.1.0/24, network br0) and h2 (10.0.1.128/25, network br0) '
                        'overlap; every host of the overlay needs subnets of its own']


def test_the_plan_places_the_overlay_on_the_uplink_with_the_lab_mtu_lowered():
    plan = plan_of()
    layout = plan['overlay']
    assert (layout['device'], layout['address'], layout['underlay'], layout['device_mtu'], layout['mtu']) == (
        'nslab.42', '198.51.100.11', 'eth0', 1450, 1450)
    assert plan['bridges'][0]['mtu'] == 1450 and plan['pairs'][0]['mtu'] == 1450
    jumbo = dict(HOST, host=dict(HOST['host'], links=[dict(HOST['host']['links'][0], mtu=9001)]))
    assert plan_of(host=jumbo)['overlay']['mtu'] == 1500
    assert lab_plan(lab_spec(DEFAULTS), HOST)['bridges'][0]['mtu'] == 1500


def test_the_underlay_address_must_be_one_the_host_holds_and_an_uplink_is_needed():
    assert problems_of(overlay=overlay(address='198.51.100.99')) == [
        'overlay: no interface of this host holds the underlay address 198.51.100.99']
    lonely = {'host': {'links': HOST['host']['links'], 'default_routes': {}}, 'namespaces': {}}
    assert 'has no uplink' in problems_of(host=lonely)[0]
    assert plan_of(host=lonely, uplink='eth0')['overlay']['address'] == '198.51.100.11'


def test_entries_join_networks_by_name_only():
    want = op.wanted_entries(plan_of()['overlay'])
    assert want['fdb'] == {('02:4e:c6:33:64:0c', '198.51.100.12'), ('02:4e:c6:33:64:0d', '198.51.100.13')}
    assert want['neighbours'] == {('10.0.2.0', '02:4e:c6:33:64:0c'), ('10.0.3.0', '02:4e:c6:33:64:0d')}
    # h3's network "other" is not one of this lab's: no route to 10.9.3.0/24.
    assert want['routes'] == {('10.0.2.0/24', '10.0.2.0', '10.0.1.1'), ('10.0.3.0/24', '10.0.3.0', '10.0.1.1')}


def test_a_new_device_is_made_then_filled_and_a_matching_one_only_corrected():
    layout = plan_of()['overlay']
    steps = op.plan_overlay(layout, None, 'nslab.42')
    assert steps[0] == ['ip', 'link', 'add', 'nslab.42', 'address', '02:4e:c6:33:64:0b', 'mtu', '1450', 'type', 'vxlan',
                        'id', '42', 'local', '198.51.100.11', 'dev', 'eth0', 'dstport', '4789', 'nolearning']
    assert steps[1] == ['ip', 'link', 'set', 'nslab.42', 'up']
    assert len(steps) == 2 + 2 + 2 + 2
    current = op.simulate_overlay(layout)
    assert op.plan_overlay(layout, current, 'nslab.42') == []
    stale = dict(current, mtu=1500, routes=current['routes'] | {('10.0.7.0/24', '10.0.7.0', '10.0.1.1')},
                 fdb=current['fdb'] - {('02:4e:c6:33:64:0c', '198.51.100.12')})
    assert op.plan_overlay(layout, stale, 'nslab.42') == [
        ['ip', 'link', 'set', 'nslab.42', 'mtu', '1450'],
        ['ip', 'route', 'del', '10.0.7.0/24', 'dev', 'nslab.42'],
        ['bridge', 'fdb', 'append', '02:4e:c6:33:64:0c', 'dev', 'nslab.42', 'dst', '198.51.100.12', 'self', 'permanent']]
    # What cannot change in place (the VNI, the port, learning...) makes the device again.
    assert op.plan_overlay(layout, dict(current, port=8472), 'nslab.42')[:2] == [
        ['ip', 'link', 'del', 'nslab.42'], ['ip'] + steps[0][1:]]
    assert op.plan_overlay(None, current, 'nslab.42') == [['ip', 'link', 'del', 'nslab.42']]
    assert op.plan_overlay(None, None, 'nslab.42') == []


def test_the_adapter_reads_iproute2_json_as_the_plan_writes_it():
    # Recorded in a sandbox world from iproute2 6.1 (Debian 12).
    link = {"ifname": "nslab.42", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "mtu": 1450,
            "address": "02:4e:c6:33:64:02", "linkinfo": {"info_kind": "vxlan", "info_data": {
                "id": 42, "local": "198.51.100.2", "link": "eth0", "port": 4789, "learning": False, "ttl": 0}}}
    device = parse_device(link)
    assert device == dict(kind='vxlan', vni=42, port=4789, local='198.51.100.2', underlay='eth0', learning=False,
                          mac='02:4e:c6:33:64:02', mtu=1450, up=True)
    entries = parse_entries(
        [{"mac": "02:4e:c6:33:64:0c", "dst": "198.51.100.12", "flags": ["self"], "state": "permanent"},
         {"mac": "33:33:00:00:00:01", "flags": ["self"], "state": "permanent"}],
        [{"dst": "10.0.2.0", "lladdr": "02:4e:c6:33:64:0c", "state": ["PERMANENT"]}],
        [{"dst": "10.0.2.0/24", "gateway": "10.0.2.0", "prefsrc": "10.0.1.1", "flags": ["onlink"]}])
    assert entries == dict(fdb={('02:4e:c6:33:64:0c', '198.51.100.12')}, neighbours={('10.0.2.0', '02:4e:c6:33:64:0c')},
                           routes={('10.0.2.0/24', '10.0.2.0', '10.0.1.1')})


def test_rules_accept_only_the_peers_vxlan_and_their_subnets_of_the_same_network():
    layout = plan_of()['overlay']
    lines = sorted(rule.as_line() for rule in op.overlay_rules(layout, ['br0']))
    owner = '-m comment --comment nslab:overlay:nslab.42'
    assert lines == sorted([
        '-A NSLAB-INPUT -p udp -m udp --dport 4789 -m u32 --u32 "0x0>>0x16&0x3c@0xc>>0x8=0x2a" -m u32 ! --u32 '
        '0xc=0xc633640c,0xc633640d %s -j DROP' % owner,
        '-A NSLAB-INBOUND -s 10.0.2.0/24 -i nslab.42 -o br0 %s -j ACCEPT' % owner,
        '-A NSLAB-INBOUND -d 10.0.2.0/24 -i br0 -o nslab.42 %s -j ACCEPT' % owner,
        '-A NSLAB-INBOUND -s 10.0.3.0/24 -i nslab.42 -o br0 %s -j ACCEPT' % owner,
        '-A NSLAB-INBOUND -d 10.0.3.0/24 -i br0 -o nslab.42 %s -j ACCEPT' % owner,
        '-A NSLAB-ISOLATE -i br0 -o nslab.42 %s -j DROP' % owner])
    isolated = plan_of(icc=False)['overlay']
    assert [rule.chain for rule in op.overlay_rules(isolated, ['br0'])] == ['NSLAB-INPUT', 'NSLAB-ISOLATE']


def test_the_rules_read_back_as_iptables_save_prints_them_so_a_rerun_changes_nothing():
    layout = plan_of()['overlay']
    wanted = op.overlay_rules(layout, ['br0'])
    saved = '*filter\n:NSLAB-INPUT - [0:0]\n:NSLAB-INBOUND - [0:0]\n:NSLAB-ISOLATE - [0:0]\n%s\nCOMMIT\n' % '\n'.join(
        rule.as_line() for rule in wanted)
    owner = op.overlay_owner('nslab.42')

    def own(plan):
        return [rule for rule in plan.appends if rule.comment == owner]

    # iptables-save quotes the u32 expressions; the rules compare as tokens all the same.
    saved = saved.replace('! --u32 0xc=0xc633640c,0xc633640d', '! --u32 "0xc=0xc633640c,0xc633640d"')
    assert '"0xc=' in saved
    assert not own(plan_firewall(parse_save(saved), [owner], wanted))
    assert own(plan_firewall(Ruleset(), [owner], wanted)) == wanted


def test_more_than_ten_peers_take_one_u32_match_per_ten():
    peers = [dict(name='h%d' % n, address='198.51.100.%d' % (20 + n), networks=[]) for n in range(23)]
    rule = op.overlay_rules(plan_of(overlay=overlay(peers=peers))['overlay'], ['br0'])[0]
    assert rule.args.count('!') == 3


def test_a_peer_not_reached_keeps_its_recorded_address_and_an_unknown_one_is_left_out():
    record = final(plan_of(), {'ns1': 1})
    # No peer's namespaces were given, none recorded: the record knows none (test_names_overlay).
    assert record['overlay'] == dict(devices=['nslab.42'], peers={'h2': '198.51.100.12', 'h3': '198.51.100.13'},
                                     namespaces={})
    owned = verify('lab', record, {'ns1': 1})
    unreached = [dict(PEERS[0], address=None), dict(name='h4', address=None, networks=[])]
    layout = plan_of(owned, overlay=overlay(peers=unreached))['overlay']
    assert [(peer['name'], peer['address']) for peer in layout['peers']] == [('h2', '198.51.100.12')]
    assert layout['unknown'] == ['h4']


def test_the_record_claims_old_and_new_devices_and_removals_take_the_old_one():
    owned = verify('lab', final(plan_of(), {'ns1': 1}), {'ns1': 1})
    moved = plan_of(owned, overlay=overlay(vni=43))
    assert moved['remove']['overlay'] == [dict(device='nslab.42')]
    assert claimed(owned, moved)['overlay']['devices'] == ['nslab.42', 'nslab.43']
    assert final(moved, {})['overlay']['devices'] == ['nslab.43']
    assert plan_of(owned, overlay=None)['remove']['overlay'] == [dict(device='nslab.42')]
    assert plan_of(owned)['remove']['overlay'] == []
    teardown = lab_plan(dict(lab_spec(dict(DEFAULTS, overlay=overlay())), state='absent'), HOST, owned)
    assert teardown['remove']['overlay'] == [dict(device='nslab.42')] and teardown['overlay'] is None


def test_a_device_of_that_name_the_lab_did_not_make_is_refused():
    plan = plan_of()
    problems = ownership_problems('lab', plan, verify('lab', {}, {}), {}, {}, {'nslab.42': 'vxlan'})
    assert problems == ['link nslab.42 already exists and was not made by lab lab; the lab never takes over, changes '
                        'or deletes what it did not make (remove it, or choose another name)']


def test_collisions_with_foreign_vxlans_and_routes_are_refused():
    layout = plan_of()['overlay']
    vxlans = [dict(name='flannel.42', vni=42, port=4789), dict(name='vx7', vni=7, port=4789),
              dict(name='nslab.42', vni=42, port=4789)]
    routes = [dict(dst='default', dev='eth0'), dict(dst='10.0.2.128/25', dev='eth0'), dict(dst='10.0.2.0/24', dev='nslab.42'),
              dict(dst='10.9.3.0/24', dev='eth0')]
    problems = op.overlay_collisions(layout, vxlans, routes, ['nslab.42'])
    assert len(problems) == 2
    assert 'flannel.42' in problems[0] and '10.0.2.128/25 via eth0' in problems[1]


def test_removals_of_a_lab_without_an_overlay_are_unchanged():
    plan = lab_plan(lab_spec(DEFAULTS), HOST)
    assert plan['overlay'] is None
    assert removals(plan, verify('lab', {}, {}), {})['overlay'] == []
