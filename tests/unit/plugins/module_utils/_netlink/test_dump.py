# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attribute parsing of netlink_dump on messages built by hand (the system tests read
the real kernel with it: every module's view goes through it)."""

from __future__ import annotations


import socket
import struct

from ansible_collections.nslab.net.plugins.module_utils._netlink import dump as nd


def attr(kind: int, value: bytes) -> bytes:
    return struct.pack('=HH', 4 + len(value), kind) + value + b'\0' * (-len(value) % 4)


def u32(value: int) -> bytes:
    return struct.pack('=I', value)


def test_attributes_are_found_past_padding_and_nesting_flags():
    data = attr(nd.IFLA_IFNAME, b'eth0\0') + attr(nd.IFLA_MTU, u32(1500)) + attr(nd.IFLA_LINKINFO | 0x8000, b'')
    found = nd.attributes(data)
    assert found[nd.IFLA_IFNAME] == b'eth0\0'
    assert found[nd.IFLA_MTU] == u32(1500)
    assert found[nd.IFLA_LINKINFO] == b''


def test_a_bridge_port_veth_is_read_with_kind_peer_and_hairpin():
    slave = attr(nd.IFLA_BRPORT_MODE, b'\x01')
    info = attr(nd.IFLA_INFO_KIND, b'veth\0') + attr(nd.IFLA_INFO_SLAVE_KIND, b'bridge\0') + \
        attr(nd.IFLA_INFO_SLAVE_DATA | 0x8000, slave)
    attrs = nd.attributes(attr(nd.IFLA_IFNAME, b'ns1-eth0\0') + attr(nd.IFLA_MTU, u32(1500)) +
                          attr(nd.IFLA_LINK, u32(2)) + attr(nd.IFLA_MASTER, u32(3)) +
                          attr(nd.IFLA_LINK_NETNSID, struct.pack('=i', 0)) + attr(nd.IFLA_LINKINFO | 0x8000, info))
    link = nd.RawLink(5, 0x1, attrs)
    assert (link.name, link.mtu, link.link, link.master, link.link_netnsid) == ('ns1-eth0', 1500, 2, 3, 0)
    assert (link.kind, link.slave_kind, link.hairpin_mode, link.stp_state) == ('veth', 'bridge', 1, None)


def test_a_bridge_reports_its_stp_state():
    info = attr(nd.IFLA_INFO_KIND, b'bridge\0') + attr(nd.IFLA_INFO_DATA | 0x8000, attr(nd.IFLA_BR_STP_STATE, u32(1)))
    link = nd.RawLink(3, 0, nd.attributes(attr(nd.IFLA_IFNAME, b'br0\0') + attr(nd.IFLA_LINKINFO, info)))
    assert (link.kind, link.stp_state, link.master, link.link_netnsid) == ('bridge', 1, None, None)


def test_a_vxlan_link_is_read_without_taking_its_data_for_a_bridge_s():
    # Attribute 5 of a vxlan's data is its one-byte TTL, not a bridge's four-byte STP state:
    # a host holding any vxlan (flannel's, Docker's, the overlay's) must still be readable.
    data = attr(1, u32(42)) + attr(5, b'\x00') + attr(7, b'\x00')
    info = attr(nd.IFLA_INFO_KIND, b'vxlan\0') + attr(nd.IFLA_INFO_DATA | 0x8000, data)
    link = nd.RawLink(4, 0, nd.attributes(attr(nd.IFLA_IFNAME, b'nslab.42\0') + attr(nd.IFLA_LINKINFO, info)))
    assert (link.name, link.kind, link.stp_state) == ('nslab.42', 'vxlan', None)


def test_addresses_prefer_the_local_address_and_routes_the_long_table_id():
    address = nd.RawAddress(socket.AF_INET, 24, 4, nd.attributes(
        attr(nd.IFA_ADDRESS, socket.inet_aton('10.0.0.9')) + attr(nd.IFA_LOCAL, socket.inet_aton('10.0.0.1'))))
    assert (address.address, address.prefixlen, address.index) == ('10.0.0.1', 24, 4)
    route = nd.RawRoute(socket.AF_INET6, 0, 252, 1, nd.attributes(
        attr(nd.RTA_TABLE, u32(254)) + attr(nd.RTA_GATEWAY, socket.inet_pton(socket.AF_INET6, 'fd00::1')) +
        attr(nd.RTA_OIF, u32(2))))
    assert (route.table, route.gateway, route.oif, route.type) == (254, 'fd00::1', 2, 1)
