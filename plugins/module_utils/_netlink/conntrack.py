# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting the conntrack flows of published ports that moved or went, over a plain netlink socket.

NAT is decided on a flow's first packet and kept in its conntrack entry: a UDP client that
keeps its source port would go on reaching a port's old destination after the port moved,
for as long as it keeps sending (moby's TestConntrackFlowsLeak), and established TCP
connections would too. So once the rules changed, the flows DNAT'ed through a mapping that
is gone are deleted (Docker does the same); their next packet is a new flow, which the
rules now in place decide.

ctnetlink (``NETLINK_NETFILTER``, subsystem ``CTNETLINK``) is spoken with ``socket`` and
``struct``, as :mod:`dump` speaks rtnetlink: the ``conntrack`` tool is not on the
targets, and pyroute2's conntrack classes differ between 0.7 and 0.9 and would cost its
import (0.15 s) to a teardown that otherwise never loads it. One dump of the IPv4 table,
then one delete per matching flow, by its original tuple and its id, so a new flow that
took the same tuple in between is left alone.
"""


import errno
import socket
import struct
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._netlink.dump import NetlinkSocket, attributes

if TYPE_CHECKING:
    # The payload finder bundles this import too: the modules that use this file carry ports anyway.
    from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
NFNETLINK_V0 = 0
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLA_F_NESTED = 0x8000

CTA_TUPLE_ORIG = 1
CTA_TUPLE_REPLY = 2
CTA_STATUS = 3
CTA_ID = 12
CTA_ZONE = 18
CTA_TUPLE_IP = 1
CTA_TUPLE_PROTO = 2
CTA_IP_V4_SRC = 1
CTA_IP_V4_DST = 2
CTA_PROTO_NUM = 1
CTA_PROTO_SRC_PORT = 2
CTA_PROTO_DST_PORT = 3
#: The entry's destination was NATed (its reply source is not its original destination).
IPS_DST_NAT = 0x20

PROTOCOLS = {'tcp': socket.IPPROTO_TCP, 'udp': socket.IPPROTO_UDP}

_NFGENMSG = struct.Struct('=BBH')
_ATTR = struct.Struct('=HH')
_BE16 = struct.Struct('!H')
_BE32 = struct.Struct('!I')


class Flow:
    """One IPv4 conntrack entry: the fields the matching needs, and what deleting it needs."""

    __slots__ = ('proto', 'orig_src', 'orig_sport', 'orig_dst', 'orig_dport', 'reply_src', 'reply_sport',
                 'status', 'delete_attrs')

    def __init__(self, proto: str, orig: Tuple[Optional[str], Optional[int], Optional[str], Optional[int]],
                 reply: Tuple[Optional[str], Optional[int]], status: int, delete_attrs: bytes = b'') -> None:
        self.proto = proto
        self.orig_src, self.orig_sport, self.orig_dst, self.orig_dport = orig
        self.reply_src, self.reply_sport = reply[0], reply[1]
        self.status = status
        self.delete_attrs = delete_attrs

    def __repr__(self) -> str:
        return 'Flow(%s %s:%s -> %s:%s, reply from %s:%s, status %#x)' % (
            self.proto, self.orig_src, self.orig_sport, self.orig_dst, self.orig_dport, self.reply_src,
            self.reply_sport, self.status)


def _attr(kind: int, value: bytes) -> bytes:
    return _ATTR.pack(_ATTR.size + len(value), kind) + value + b'\0' * (-len(value) % 4)


def _tuple(data: bytes) -> Tuple[Optional[int], Optional[str], Optional[int], Optional[str], Optional[int]]:
    """``(proto number, src, src port, dst, dst port)`` of a CTA_TUPLE_*; ports None where the
    protocol has none, addresses None where the tuple is not IPv4."""
    found = attributes(data)
    addresses = attributes(found.get(CTA_TUPLE_IP, b''))
    proto = attributes(found.get(CTA_TUPLE_PROTO, b''))

    def address(kind: int) -> Optional[str]:
        value = addresses.get(kind)
        return socket.inet_ntoa(value) if value is not None and len(value) == 4 else None

    def port(kind: int) -> Optional[int]:
        value = proto.get(kind)
        return _BE16.unpack_from(value)[0] if value is not None else None

    number = proto.get(CTA_PROTO_NUM)
    return (bytearray(number)[0] if number else None, address(CTA_IP_V4_SRC), port(CTA_PROTO_SRC_PORT),
            address(CTA_IP_V4_DST), port(CTA_PROTO_DST_PORT))


def parse_flow(payload: bytes) -> Optional[Flow]:
    """The :class:`Flow` of an IPCTNL_MSG_CT_NEW payload (nfgenmsg and attributes), or None
    for an entry of another protocol than tcp and udp."""
    found = attributes(payload, _NFGENMSG.size)
    if CTA_TUPLE_ORIG not in found or CTA_TUPLE_REPLY not in found:
        return None
    number, orig_src, orig_sport, orig_dst, orig_dport = _tuple(found[CTA_TUPLE_ORIG])
    names = {value: name for name, value in PROTOCOLS.items()}
    if number not in names:
        return None
    unused, reply_src, reply_sport, unused_dst, unused_dport = _tuple(found[CTA_TUPLE_REPLY])
    status = _BE32.unpack_from(found[CTA_STATUS])[0] if CTA_STATUS in found else 0
    # The entry is deleted by its original tuple in its zone; its id makes sure it is this
    # very entry and not one that took the same tuple since the dump.
    delete_attrs = _attr(CTA_TUPLE_ORIG | NLA_F_NESTED, found[CTA_TUPLE_ORIG])
    for kind in (CTA_ID, CTA_ZONE):
        if kind in found:
            delete_attrs += _attr(kind, found[kind])
    return Flow(names[number], (orig_src, orig_sport, orig_dst, orig_dport), (reply_src, reply_sport), status,
                delete_attrs)


def flow_matches(flow: Flow, target: 'PublishedPort') -> bool:
    """Whether ``flow`` was DNAT'ed through ``target``: a published port with ``proto``,
    ``host_ip`` (None: any address of the host), ``host_port``, ``destination`` and
    ``container_port``. Flows that reached the destination without that DNAT are not its."""
    return (flow.status & IPS_DST_NAT != 0 and flow.proto == target.proto
            and flow.reply_src == target.destination and flow.reply_sport == target.container_port
            and flow.orig_dport == target.host_port
            and (target.host_ip is None or flow.orig_dst == target.host_ip))


class ConntrackSocket(NetlinkSocket):
    """A ctnetlink socket of the network namespace the calling thread is in when it is made."""

    def __init__(self) -> None:
        super().__init__(NETLINK_NETFILTER)

    def _ctnetlink(self, command: int, flags: int, body: bytes) -> List[bytes]:
        """The payloads of the answer to a CTNETLINK ``command``."""
        kind = (NFNL_SUBSYS_CTNETLINK << 8) | command
        return [payload for unused, payload in self._request(kind, flags, body)]

    def flows(self) -> List[Flow]:
        """Every tcp and udp entry of the IPv4 conntrack table."""
        found = []
        body = _NFGENMSG.pack(socket.AF_INET, NFNETLINK_V0, 0)
        for payload in self._ctnetlink(IPCTNL_MSG_CT_GET, NLM_F_DUMP, body):
            flow = parse_flow(payload)
            if flow is not None:
                found.append(flow)
        return found

    def delete(self, flow: Flow) -> bool:
        """Delete ``flow``; False if it was gone already (timed out, or replaced since the dump)."""
        try:
            self._ctnetlink(IPCTNL_MSG_CT_DELETE, NLM_F_ACK,
                            _NFGENMSG.pack(socket.AF_INET, NFNETLINK_V0, 0) + flow.delete_attrs)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise
        return True


def delete_flows(targets: Iterable['PublishedPort']) -> int:
    """Delete the flows DNAT'ed through any of ``targets`` (see :func:`flow_matches`); the
    number deleted. One dump of the table, whatever the number of targets."""
    by_key: Dict[Tuple[str, Optional[str], Optional[int]], List['PublishedPort']] = {}
    for target in targets:
        by_key.setdefault((target.proto, target.destination, target.container_port), []).append(target)
    if not by_key:
        return 0
    deleted = 0
    with ConntrackSocket() as conntrack:
        for flow in conntrack.flows():
            candidates = by_key.get((flow.proto, flow.reply_src, flow.reply_sport), ())
            if any(flow_matches(flow, target) for target in candidates) and conntrack.delete(flow):
                deleted += 1
    return deleted
