# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""conntrack_flows without a kernel: ctnetlink entries decoded from a recorded dump and from
messages built by hand, which flows a gone mapping owns, and the deletion request and command.
(The system tests delete real flows with it and watch a UDP client's traffic move.)"""

from __future__ import annotations


import socket
import struct

import pytest

from ansible_collections.nslab.net.plugins.module_utils._netlink import conntrack as cf
from ansible_collections.nslab.net.plugins.module_utils._netlink.dump import attributes
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort

# One IPCTNL_MSG_CT_NEW payload of a 6.18 kernel's dump: a UDP datagram from
# 198.51.100.2:40000 to 198.51.100.2:5353, DNAT'ed to 10.0.0.1:53 (nfgenmsg, then attributes).
RECORDED = bytes.fromhex(
    '02000000340001801400018008000100c633640208000200c63364021c0002800500010011000000060002009c40'
    '000006000300'
    '14e900003400028014000180080001000a00000108000200c63364021c00028005000100110000000600020000350000'
    '060003009c40000008000300000001a8080008000000000008000c006774f66c08000b0000000001080007000000001d')


def attr(kind: int, value: bytes) -> bytes:
    return struct.pack('=HH', 4 + len(value), kind) + value + b'\0' * (-len(value) % 4)


def nested(kind: int, value: bytes) -> bytes:
    return attr(kind | cf.NLA_F_NESTED, value)


def ct_tuple(proto: int, src: str, sport: int, dst: str, dport: int) -> bytes:
    addresses = attr(cf.CTA_IP_V4_SRC, socket.inet_aton(src)) + attr(cf.CTA_IP_V4_DST, socket.inet_aton(dst))
    ports = attr(cf.CTA_PROTO_NUM, bytes([proto])) + attr(cf.CTA_PROTO_SRC_PORT, struct.pack('!H', sport)) + \
        attr(cf.CTA_PROTO_DST_PORT, struct.pack('!H', dport))
    return nested(cf.CTA_TUPLE_IP, addresses) + nested(cf.CTA_TUPLE_PROTO, ports)


def entry(orig, reply, status=0x1a8, proto=socket.IPPROTO_UDP, extra=b'') -> bytes:
    """An IPCTNL_MSG_CT_NEW payload: ``orig`` and ``reply`` are (src, sport, dst, dport)."""
    return struct.pack('=BBH', socket.AF_INET, 0, 0) + nested(cf.CTA_TUPLE_ORIG, ct_tuple(proto, *orig)) + \
        nested(cf.CTA_TUPLE_REPLY, ct_tuple(proto, *reply)) + attr(cf.CTA_STATUS, struct.pack('!I', status)) + extra


CLIENT = ('198.51.100.3', 40000)
HOST = '198.51.100.2'
UDP_5353 = PublishedPort('udp', None, 5353, '10.0.0.1', 53)


def dnated(host=HOST, port=5353, destination='10.0.0.1', container_port=53, status=0x1a8, proto=socket.IPPROTO_UDP):
    return cf.parse_flow(entry(CLIENT + (host, port), (destination, container_port) + CLIENT, status, proto))


def test_a_recorded_entry_is_decoded():
    flow = cf.parse_flow(RECORDED)
    assert (flow.proto, flow.orig_src, flow.orig_sport, flow.orig_dst, flow.orig_dport) == (
        'udp', HOST, 40000, HOST, 5353)
    assert (flow.reply_src, flow.reply_sport) == ('10.0.0.1', 53)
    assert flow.status & cf.IPS_DST_NAT
    assert cf.flow_matches(flow, UDP_5353)


def test_the_deletion_names_the_original_tuple_and_the_id_of_the_entry():
    flow = cf.parse_flow(RECORDED)
    found = attributes(flow.delete_attrs)
    assert sorted(found) == [cf.CTA_TUPLE_ORIG, cf.CTA_ID]
    assert found[cf.CTA_TUPLE_ORIG] == attributes(RECORDED, 4)[cf.CTA_TUPLE_ORIG]
    assert struct.unpack('!I', found[cf.CTA_ID])[0] == 0x6774f66c
    assert struct.unpack_from('=HH', flow.delete_attrs)[1] == cf.CTA_TUPLE_ORIG | cf.NLA_F_NESTED


def test_the_zone_of_an_entry_goes_with_its_deletion():
    flow = cf.parse_flow(entry(CLIENT + (HOST, 5353), ('10.0.0.1', 53) + CLIENT,
                               extra=attr(cf.CTA_ZONE, struct.pack('!H', 7))))
    assert attributes(flow.delete_attrs)[cf.CTA_ZONE] == struct.pack('!H', 7)


def test_entries_of_other_protocols_are_skipped():
    assert cf.parse_flow(entry(CLIENT + (HOST, 0), ('10.0.0.1', 0) + CLIENT, proto=socket.IPPROTO_ICMP)) is None
    assert cf.parse_flow(struct.pack('=BBH', socket.AF_INET, 0, 0)) is None


@pytest.mark.parametrize('flow, owned', [
    (dnated(), True),
    (dnated(host='127.0.0.1'), True),                     # any address of the host
    (dnated(status=0x188), False),                        # reached 10.0.0.1:53 without a DNAT
    (dnated(port=5354), False),                           # another host port to the same destination
    (dnated(container_port=54), False),
    (dnated(destination='10.0.0.2'), False),              # the port's new destination
    (dnated(proto=socket.IPPROTO_TCP), False),
])
def test_only_flows_dnated_through_the_mapping_are_its_own(flow, owned):
    assert cf.flow_matches(flow, UDP_5353) is owned


def test_a_mapping_on_one_host_address_owns_the_flows_to_that_address_only():
    local = PublishedPort('udp', '127.0.0.1', 5353, '10.0.0.1', 53)
    assert cf.flow_matches(dnated(host='127.0.0.1'), local)
    assert not cf.flow_matches(dnated(), local)


def test_deletion_commands():
    assert UDP_5353.conntrack_deletion_command() == (
        'conntrack -D -p udp --orig-port-dst 5353 --reply-src 10.0.0.1 --reply-port-src 53')
    assert PublishedPort('tcp', '127.0.0.1', 8080, '10.0.0.1', 80).conntrack_deletion_command() == (
        'conntrack -D -p tcp --orig-dst 127.0.0.1 --orig-port-dst 8080 --reply-src 10.0.0.1 --reply-port-src 80')


def test_nothing_to_delete_opens_no_socket(monkeypatch):
    def refuse(*unused):
        raise AssertionError('a socket was opened')
    monkeypatch.setattr(cf, 'ConntrackSocket', refuse)
    assert cf.delete_flows([]) == 0
