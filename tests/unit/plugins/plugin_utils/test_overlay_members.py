# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is in a host's overlay, found on the controller from the inventory's variables, with the
peers' namespaces from their results of the lab in the play; and when the role's second run of
the lab reuses the first one's result."""

from __future__ import annotations


import copy

import pytest

from ansible_collections.nslab.net.plugins.action.lab_network import arguments_digest, registered_name, reusable
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.plugin_utils.overlay_members import (
    lab_namespaces, looked_up_address, overlay_peers, underlay_address)

OVERLAY = dict(vni=42)
# `ip -4 addr show primary dev ens5.1` through a terminal, as the role's lookup sees it: the
# first address has another label (setup files it under that label, not under ens5.1).
ADDR_SHOW = ('3: ens5.1@ens5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 9001 qdisc noqueue state UP group default qlen 1000\r\n'
             '    inet 192.0.2.40/24 brd 192.0.2.255 scope global ens5.1:web\r\n'
             '       valid_lft forever preferred_lft forever\r\n'
             '    inet 192.0.2.4/24 metric 100 brd 192.0.2.255 scope global dynamic noprefixroute ens5.1\r\n'
             '       valid_lft 3000sec preferred_lft 3000sec\r\n')
INVENTORY = {
    'h1': dict(lab_overlay=OVERLAY, lab_subnet='10.0.1.0/24'),
    'h2': dict(lab_overlay=dict(vni='42'), lab_subnet='10.0.2.0/24', lab_overlay_address='192.0.2.2'),
    'h3': dict(lab_overlay=OVERLAY, lab_networks=[dict(name='br0', subnet='10.0.3.0/24'), dict(name='db', subnet='10.1.3.0/24')],
               lab_underlay_result=dict(rc=0, stdout='8.8.8.8 via 192.0.2.1 dev ens5 src 192.0.2.3 uid 0 \r\n    cache \r\n')),
    'h4': dict(lab_overlay=OVERLAY, lab_subnet='10.0.4.0/24', lab_uplink='ens5.1',
               lab_underlay_result=dict(rc=0, stdout=ADDR_SHOW)),
    'other-vni': dict(lab_overlay=dict(vni=7), lab_subnet='10.0.1.0/24'),
    'other-lab': dict(lab_overlay=OVERLAY, lab_name='second', lab_subnet='10.0.1.0/24'),
    'gone': dict(lab_overlay=OVERLAY, lab_state='absent', lab_subnet='10.0.1.0/24'),
    'plain': dict(lab_subnet='10.0.1.0/24'),
}


def peers(inventory=None, me='h1', subnets=(('br0', '10.0.1.0/24'),)):
    inventory = inventory or INVENTORY
    return overlay_peers(me, list(subnets), OVERLAY, 'lab', list(inventory), lambda host: inventory[host])


def test_members_share_the_vni_and_the_lab_and_are_not_torn_down():
    found = peers()
    assert [peer['name'] for peer in found] == ['h2', 'h3', 'h4']
    assert found[1]['networks'] == [dict(network='br0', subnet='10.0.3.0/24'), dict(network='db', subnet='10.1.3.0/24')]


def test_the_address_is_the_declared_one_then_the_uplink_s_then_the_default_route_s():
    assert [peer['address'] for peer in peers()] == ['192.0.2.2', '192.0.2.3', '192.0.2.4']
    assert underlay_address(dict(lab_overlay=OVERLAY)) is None  # not reached in this run: the record decides


def test_the_lookup_of_this_run_decides_where_it_ran_and_facts_only_where_it_did_not():
    facts = dict(default_ipv4=dict(address='192.0.2.99'), ens5_1=dict(ipv4=dict(address='192.0.2.98')))
    found_nothing = dict(rc=2, stdout='RTNETLINK answers: Network is unreachable\r\n')
    assert underlay_address(dict(lab_underlay_result=found_nothing, ansible_facts=facts)) is None
    skipped = dict(skipped=True, changed=False, false_condition='...')
    assert underlay_address(dict(lab_underlay_result=skipped, ansible_facts=facts)) == '192.0.2.99'
    # setup names a fact after the interface with '-' as '_' and nothing else changed.
    assert underlay_address(dict(lab_uplink='ens5-1', ansible_facts=facts)) == '192.0.2.98'
    assert underlay_address(dict(lab_uplink='ens5.1', ansible_facts=facts)) is None
    assert underlay_address(dict(lab_overlay_address='192.0.2.7', lab_underlay_result=dict(rc=0, stdout=ADDR_SHOW),
                                 lab_uplink='ens5.1')) == '192.0.2.7'


@pytest.mark.parametrize('output, uplink, address', [
    ('8.8.8.8 via 192.0.2.1 dev ens5 src 192.0.2.3 uid 0 \r\n    cache \r\n', None, '192.0.2.3'),
    ('8.8.8.8 dev tun0 src 10.8.0.2 uid 1000\n    cache\n', '', '10.8.0.2'),
    # What the login shell printed first does not count; nor an answer without a source address.
    ('Welcome!\r\n8.8.8.8 via 192.0.2.1 dev ens5 src 192.0.2.3 uid 0\r\n', None, '192.0.2.3'),
    ('8.8.8.8 via 192.0.2.1 dev ens5 uid 0\r\n', None, None),
    ('RTNETLINK answers: Network is unreachable\r\n', None, None),
    ('/bin/sh: 1: ip: not found\r\n', None, None),
    ('', None, None),
    (None, None, None),
    (ADDR_SHOW, 'ens5.1', '192.0.2.4'),
    (ADDR_SHOW, 'ens5', None),
    ('Device "eth9" does not exist.\r\nDevice "eth9" does not exist.\r\n', 'eth9', None),
    ('2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n', 'eth0', None),  # no IPv4 address
    ('    inet 10.0.0.5 peer 10.0.0.6/32 scope global ppp0\n', 'ppp0', '10.0.0.5'),  # point-to-point: no prefix
    ('    inet 192.0.2.4/24 scope global eth0\n8.8.8.8 via 192.0.2.1 dev eth0 src 192.0.2.9\n', None, '192.0.2.9'),
])
def test_the_lookup_s_output_gives_what_setup_s_facts_gave(output, uplink, address):
    assert looked_up_address(output, uplink) == address


def test_a_member_without_subnet_variables_has_the_role_s_default_network():
    inventory = dict(INVENTORY, h5=dict(lab_overlay=OVERLAY))
    with pytest.raises(InvalidInput) as caught:
        peers(inventory, subnets=[('br0', '10.0.0.0/24')])
    assert caught.value.problems == [
        'the lab subnets of h1 (10.0.0.0/24, network br0) and h5 (10.0.0.0/24, network br0) overlap; every host of the '
        'overlay needs subnets of its own']


def test_overlaps_between_two_other_hosts_fail_every_host_naming_both():
    inventory = dict(INVENTORY, h6=dict(lab_overlay=OVERLAY, lab_subnet='10.0.3.128/25'))
    with pytest.raises(InvalidInput) as caught:
        peers(inventory)
    assert caught.value.problems == [
        'the lab subnets of h3 (10.0.3.0/24, network br0) and h6 (10.0.3.128/25, network br0) overlap; every host of the '
        'overlay needs subnets of its own']


def test_a_member_with_bad_variables_is_named():
    inventory = dict(INVENTORY, h7=dict(lab_overlay=OVERLAY, lab_subnet='10.0.7.1/24'))
    with pytest.raises(InvalidInput) as caught:
        peers(inventory)
    assert caught.value.problems == ['overlay member h7: network br0: bridge br0: subnet 10.0.7.1/24 has host bits set; did you mean '
                                     '10.0.7.0/24?']


# The peers' namespaces, from their results of this lab in the play.

def lab_result(lab='lab', state='present', **extra):
    """A registered result of lab_network, with the fields the controller reads."""
    result = dict(changed=True, summary=dict(name=lab, state=state), plan=dict(state=state, namespaces=[
        dict(name='web', networks=[dict(network='br0', address='10.0.3.2')]),
        dict(name='api', networks=[dict(network='br0', address='10.0.3.3'), dict(network='db', address='10.1.3.7')])]))
    result.update(extra)
    return result


H3_NAMESPACES = [dict(name='web', network='br0', address='10.0.3.2'), dict(name='api', network='br0', address='10.0.3.3'),
                 dict(name='api', network='db', address='10.1.3.7')]


def namespaces_of(result, register='lab_result'):
    inventory = copy.deepcopy(INVENTORY)
    if result is not None:
        inventory['h3'][register] = result
    return {peer['name']: peer['namespaces'] for peer in peers(inventory)}


def test_a_peer_s_namespaces_come_from_its_result_of_this_lab_on_every_network():
    assert namespaces_of(lab_result()) == dict(h2=None, h3=H3_NAMESPACES, h4=None)


@pytest.mark.parametrize('result', [
    None,  # the peer has not run the lab in this play (the role's first run of it, --limit, unreachable)
    lab_result(lab='second'),  # another lab's
    lab_result(state='absent'),  # a teardown
    lab_result(failed=True),
    dict(changed=False, skipped=True),  # skipped by a condition
    dict(failed=True, msg='missing pyroute2', missing_requirements=['pyroute2']),  # the role then installs and retries
    # An earlier play's, when h3's networks were others: stale.
    lab_result(plan=dict(state='present', namespaces=[dict(name='web', networks=[dict(network='br0', address='10.9.3.2')])])),
    lab_result(plan=dict(state='present', namespaces=[dict(name='web', networks=[dict(network='front', address='10.0.3.2')])])),
])
def test_a_peer_s_namespaces_are_omitted_unless_its_result_is_a_build_of_this_lab(result):
    assert namespaces_of(result)['h3'] is None


def test_the_result_is_read_from_the_variable_the_task_registers():
    assert namespaces_of(lab_result(), register='mine')['h3'] is None
    inventory = copy.deepcopy(INVENTORY)
    inventory['h3']['mine'] = lab_result()
    found = overlay_peers('h1', [('br0', '10.0.1.0/24')], OVERLAY, 'lab', list(inventory), lambda host: inventory[host],
                          'mine')
    assert found[1]['namespaces'] == H3_NAMESPACES


def test_lab_namespaces_of_a_lab_without_namespaces_is_an_empty_list():
    assert lab_namespaces(dict(summary=dict(name='lab'), plan=dict(state='present', namespaces=[])), 'lab') == []


# reuse_result: the action plugin's second run of the lab, without the module where nothing changed.

CHECKED = dict(name='lab', state='present', diagram_path='/tmp/lab.md', reuse_result=True, namespaces=[dict(name='web')],
               overlay=dict(vni=42, port=4789, address=None, peers=[
                   dict(name='h3', address='192.0.2.3', networks=[dict(network='br0', subnet='10.0.3.0/24')],
                        namespaces=H3_NAMESPACES),
                   dict(name='h4', address='192.0.2.4', networks=[dict(network='br0', subnet='10.0.4.0/24')],
                        namespaces=None)]))


def first_run(used=None, **extra):
    """This host's result of the role's first run of the lab: the peers' namespaces it used."""
    peers_used = used if used is not None else dict(h3=copy.deepcopy(H3_NAMESPACES), h4=None)
    first = dict(copy.deepcopy(CHECKED), reuse_result=False)
    first['overlay']['peers'] = [dict(peer, namespaces=None) for peer in first['overlay']['peers']]
    result = dict(changed=True, commands=['ip netns add web'], steps=[dict(step='netns')], diff=dict(before={}, after={}),
                  warnings=['shown once'], invocation=dict(module_args={}), summary=dict(name='lab', text=['LAB']),
                  plan=dict(state='present', overlay=dict(peers=[dict(name=name, namespaces=namespaces)
                                                                 for name, namespaces in peers_used.items()])),
                  arguments=arguments_digest(first, False), _ansible_no_log=False)
    result.update(extra)
    return result


def test_the_digest_ignores_the_peers_namespaces_and_the_controller_s_own_arguments():
    other = copy.deepcopy(CHECKED)
    other.update(diagram_path=None, reuse_result=False)
    other['overlay']['peers'][0]['namespaces'] = None
    assert arguments_digest(other, False) == arguments_digest(CHECKED, False)
    assert arguments_digest(CHECKED, True) != arguments_digest(CHECKED, False)
    for change in (dict(namespaces=[]), dict(names=False)):
        assert arguments_digest(dict(CHECKED, **change), False) != arguments_digest(CHECKED, False), change
    moved = copy.deepcopy(CHECKED)
    moved['overlay']['peers'][1]['address'] = '192.0.2.44'
    assert arguments_digest(moved, False) != arguments_digest(CHECKED, False)


def test_the_first_run_s_result_is_reused_when_it_used_the_same_peers_namespaces():
    reused = reusable(first_run(), arguments_digest(CHECKED, False), CHECKED)
    # Unchanged, nothing to repeat (its warnings were shown), the same summary and plan.
    assert reused['changed'] is False and reused['commands'] == [] and reused['steps'] == []
    assert reused['summary'] == dict(name='lab', text=['LAB']) and reused['plan'] == first_run()['plan']
    assert not set(reused) & {'warnings', 'diff', 'invocation', '_ansible_no_log'}


@pytest.mark.parametrize('previous', [
    None,
    first_run(used=dict(h3=None, h4=None)),  # the first run knew none of h3's (nothing recorded)
    first_run(used=dict(h3=H3_NAMESPACES[:2], h4=None)),  # one more since
    first_run(used=dict(h3=list(reversed(H3_NAMESPACES)), h4=None)),  # another order: other hosts files
    first_run(used=dict(h4=None)),  # h3 had no address then
    first_run(arguments='sha256:other'),  # other arguments
    first_run(failed=True),
    dict(changed=False, skipped=True),
    first_run(plan=dict(state='present', overlay=None)),
])
def test_the_module_runs_again_where_a_peer_s_namespaces_or_the_arguments_differ(previous):
    assert reusable(previous, arguments_digest(CHECKED, False), CHECKED) is None


def test_peers_whose_namespaces_this_run_does_not_know_are_not_compared():
    # h4 has none in this run: the module would take those of its record, which the first run left.
    assert reusable(first_run(used=dict(h3=H3_NAMESPACES, h4=[dict(name='x', network='br0', address='10.0.4.2')])),
                    arguments_digest(CHECKED, False), CHECKED) is not None


@pytest.mark.parametrize('register, name', [
    (None, 'lab_result'), ('', 'lab_result'), ('mine', 'mine'),
    # ansible-core 2.22: register: mine is {mine: expression}, several names a projection.
    ({'mine': '_task.polymorphic_result'}, 'mine'), ({'a': 'x', 'b': 'y'}, 'lab_result')])
def test_the_registered_name_is_read_from_a_name_or_a_projection_of_one(register, name):
    assert registered_name(register) == name
