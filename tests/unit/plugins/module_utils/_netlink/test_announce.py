# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Announcing an address that came up on a new interface: the frame and what is announced."""

from __future__ import annotations

import struct

from ansible_collections.nslab.net.plugins.module_utils._netlink.announce import announce, announced, arp_announcement
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step

from adapter_fakes import FakeNetlink


MAC = bytes.fromhex('020000000001')


def test_the_frame_is_a_broadcast_arp_request_for_the_address_itself():
    frame = arp_announcement(MAC, '10.0.0.1')
    assert frame[:6] == b'\xff' * 6 and frame[6:12] == MAC and frame[12:14] == b'\x08\x06'
    htype, ptype, hlen, plen, op = struct.unpack('!HHBBH', frame[14:22])
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    sender_mac, sender_ip, target_mac, target_ip = frame[22:28], frame[28:32], frame[32:38], frame[38:42]
    assert sender_mac == MAC and target_mac == b'\x00' * 6
    # Sender and target address equal: what Linux takes as a gratuitous ARP.
    assert sender_ip == target_ip == bytes([10, 0, 0, 1])
    assert len(frame) == 42


def test_only_ipv4_addresses_added_inside_namespaces_are_announced():
    steps = [Step('add_address', 'ns1', 'eth0', address='10.0.0.1/24'),
             Step('add_address', None, 'br0', address='10.0.0.254/24'),
             Step('add_address', 'ns1', 'eth0', address='2001:db8::1/64'),
             Step('delete_address', 'ns2', 'eth0', address='10.0.0.2/24'),
             Step('set_up', 'ns1', 'eth0', up=True)]
    assert announced(steps) == [('ns1', 'eth0', '10.0.0.1')]


def test_a_send_that_fails_is_reported_not_raised():
    class Refusing(FakeNetlink):
        def opened_in(self, netns, factory):
            raise PermissionError(1, 'Operation not permitted')

    assert announce(Refusing(), [('ns1', 'eth0', '10.0.0.1')]) == [
        '10.0.0.1 on eth0 in ns1: [Errno 1] Operation not permitted']
    netlink = FakeNetlink()
    assert announce(netlink, [('ns1', 'eth0', '10.0.0.1')]) == []
    assert [(netns, interface) for netns, interface, unused in netlink.announcements] == [('ns1', 'eth0')]
