# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is in a host's overlay, found on the controller from the inventory's variables."""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.plugin_utils.overlay_members import overlay_peers, underlay_address

OVERLAY = dict(vni=42)
INVENTORY = {
    'h1': dict(lab_overlay=OVERLAY, lab_subnet='10.0.1.0/24'),
    'h2': dict(lab_overlay=dict(vni='42'), lab_subnet='10.0.2.0/24', lab_overlay_address='192.0.2.2'),
    'h3': dict(lab_overlay=OVERLAY, lab_networks=[dict(name='br0', subnet='10.0.3.0/24'), dict(name='db', subnet='10.1.3.0/24')],
               ansible_facts=dict(default_ipv4=dict(address='192.0.2.3'))),
    'h4': dict(lab_overlay=OVERLAY, lab_subnet='10.0.4.0/24', lab_uplink='ens5.1',
               ansible_facts=dict(default_ipv4=dict(address='192.0.2.99'), ens5_1=dict(ipv4=dict(address='192.0.2.4')))),
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
