# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading links, addresses, default routes and namespace ids with a plain netlink socket.

pyroute2 decodes every attribute of every message in Python, statistics and per-family
settings included: about 4 ms per namespace for the three dumps a view needs, and its import
costs 0.15 s more. The views need a dozen attributes, which ``struct`` finds in a tenth of
that time; pyroute2 is left to the writes (the adapter imports it only for those), so a
run that changes nothing never loads it.
"""


import errno
import os
import socket
import struct
from typing import Any, Dict, List, Optional, Tuple, TypeVar

NETLINK_ROUTE = 0
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
RTM_GETNSID = 90
NLA_TYPE_MASK = 0x3fff

IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_LINK_NETNSID = 37
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_INFO_SLAVE_KIND = 4
IFLA_INFO_SLAVE_DATA = 5
IFLA_BR_STP_STATE = 5
IFLA_BRPORT_MODE = 4
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_TABLE = 15
NETNSA_NSID = 1
NETNSA_FD = 3

_HEADER = struct.Struct('=IHHII')
_ATTR = struct.Struct('=HH')
_IFINFO = struct.Struct('=BxHiII')
_IFADDR = struct.Struct('=BBBBI')
_RTMSG = struct.Struct('=BBBBBBBBI')
_U32 = struct.Struct('=I')
_S32 = struct.Struct('=i')
_BUFFER = 1 << 20

_S = TypeVar('_S', bound='NetlinkSocket')


def attributes(data: bytes, offset: int = 0, end: Optional[int] = None) -> Dict[int, bytes]:
    """``{type: bytes}`` of the netlink attributes in ``data[offset:end]`` (the last of a type wins)."""
    end = len(data) if end is None else end
    found = {}
    while offset + 4 <= end:
        length, kind = _ATTR.unpack_from(data, offset)
        if length < 4:
            break
        found[kind & NLA_TYPE_MASK] = data[offset + 4:offset + length]
        offset += (length + 3) & ~3
    return found


def _text(value: Optional[bytes]) -> Optional[str]:
    return value.split(b'\0', 1)[0].decode('utf-8', 'replace') if value is not None else None


def _u32(value: Optional[bytes]) -> Optional[int]:
    return _U32.unpack_from(value)[0] if value is not None else None


def _address(family: int, value: Optional[bytes]) -> Optional[str]:
    return socket.inet_ntop(family, value) if value is not None else None


class RawLink:
    """The attributes of one RTM_NEWLINK message the views use."""

    def __init__(self, index: int, flags: int, attrs: Dict[int, bytes]) -> None:
        self.index = index
        self.flags = flags
        self.name = _text(attrs.get(IFLA_IFNAME))
        self.mtu = _u32(attrs.get(IFLA_MTU))
        self.link = _u32(attrs.get(IFLA_LINK))
        self.master = _u32(attrs.get(IFLA_MASTER))
        nsid = attrs.get(IFLA_LINK_NETNSID)
        self.link_netnsid = _S32.unpack_from(nsid)[0] if nsid is not None else None
        info = attributes(attrs.get(IFLA_LINKINFO, b''))
        self.kind = _text(info.get(IFLA_INFO_KIND))
        self.slave_kind = _text(info.get(IFLA_INFO_SLAVE_KIND))
        # The data's attributes are numbered per kind (5 is a vxlan's one-byte TTL).
        data = attributes(info.get(IFLA_INFO_DATA, b'')) if self.kind == 'bridge' else {}
        self.stp_state = _u32(data.get(IFLA_BR_STP_STATE))
        slave = attributes(info.get(IFLA_INFO_SLAVE_DATA, b''))
        mode = slave.get(IFLA_BRPORT_MODE)
        self.hairpin_mode = bytearray(mode)[0] if mode else None


class RawAddress:
    def __init__(self, family: int, prefixlen: int, index: int, attrs: Dict[int, bytes]) -> None:
        self.index = index
        self.prefixlen = prefixlen
        self.address = _address(family, attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS))


class RawRoute:
    def __init__(self, family: int, dst_len: int, table: int, route_type: int, attrs: Dict[int, bytes]) -> None:
        self.dst_len = dst_len
        self.table = _u32(attrs.get(RTA_TABLE)) or table
        self.type = route_type
        self.gateway = _address(family, attrs.get(RTA_GATEWAY))
        self.oif = _u32(attrs.get(RTA_OIF))


class NetlinkSocket:
    """A netlink socket of ``protocol``, in the namespace the calling thread is in when it is made."""

    def __init__(self, protocol: int) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        self.seq = 0
        try:
            self.sock.bind((0, 0))
        except Exception:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *unused: Any) -> None:
        self.close()

    def _request(self, msg_type: int, flags: int, body: bytes) -> List[Tuple[int, bytes]]:
        """The ``(type, payload)`` of each message of the answer; OSError with the kernel's error."""
        self.seq += 1
        self.sock.send(_HEADER.pack(_HEADER.size + len(body), msg_type, NLM_F_REQUEST | flags, self.seq, 0) + body)
        messages: List[Tuple[int, bytes]] = []
        while True:
            data = self.sock.recv(_BUFFER)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, unused_flags, seq, unused_pid = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    raise OSError(errno.EPROTO, 'netlink: a message of length %d' % length)
                if seq == self.seq:
                    if kind == NLMSG_DONE:
                        return messages
                    if kind == NLMSG_ERROR:
                        code = _S32.unpack_from(data, offset + _HEADER.size)[0]
                        if code:
                            raise OSError(-code, os.strerror(-code))
                        return messages
                    messages.append((kind, data[offset + _HEADER.size:offset + length]))
                offset += (length + 3) & ~3
            if not flags & NLM_F_DUMP and messages:
                return messages


class RouteSocket(NetlinkSocket):
    """A NETLINK_ROUTE socket of the namespace the calling thread is in when it is made."""

    def __init__(self) -> None:
        super().__init__(NETLINK_ROUTE)

    def links(self) -> List[RawLink]:
        found = []
        for unused_kind, payload in self._request(RTM_GETLINK, NLM_F_DUMP, _IFINFO.pack(0, 0, 0, 0, 0)):
            index, flags = _IFINFO.unpack_from(payload)[2:4]
            found.append(RawLink(index, flags, attributes(payload, _IFINFO.size)))
        return found

    def link_index(self, name: str) -> int:
        """The index of the link called ``name``: one RTM_GETLINK for it, not a dump of all."""
        encoded = name.encode('utf-8') + b'\0'
        attr = _ATTR.pack(4 + len(encoded), IFLA_IFNAME) + encoded + b'\0' * (-len(encoded) % 4)
        for unused_kind, payload in self._request(RTM_GETLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) + attr):
            return _IFINFO.unpack_from(payload)[2]
        raise OSError(19, 'no link %s' % name)

    def delete_link(self, index: int) -> None:
        """Delete the link ``index`` (its veth peer goes with it): the one write a teardown
        needs, so that a teardown never imports pyroute2."""
        self._request(RTM_DELLINK, NLM_F_ACK, _IFINFO.pack(0, 0, index, 0, 0))

    def addresses(self) -> List[RawAddress]:
        found = []
        for unused_kind, payload in self._request(RTM_GETADDR, NLM_F_DUMP, _IFADDR.pack(0, 0, 0, 0, 0)):
            fields = _IFADDR.unpack_from(payload)
            found.append(RawAddress(fields[0], fields[1], fields[4], attributes(payload, _IFADDR.size)))
        return found

    def routes(self, family: int) -> List[RawRoute]:
        found = []
        for unused_kind, payload in self._request(RTM_GETROUTE, NLM_F_DUMP, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
            fields = _RTMSG.unpack_from(payload)
            fam, dst_len, table, route_type = fields[0], fields[1], fields[4], fields[7]
            if fam == family:
                found.append(RawRoute(family, dst_len, table, route_type, attributes(payload, _RTMSG.size)))
        return found

    def nsid(self, fd: int) -> Optional[int]:
        """The id the namespace behind ``fd`` has in this socket's namespace, None if unassigned."""
        body = struct.pack('=Bxxx', socket.AF_UNSPEC) + _ATTR.pack(8, NETNSA_FD) + _U32.pack(fd)
        for unused_kind, payload in self._request(RTM_GETNSID, 0, body):
            value = attributes(payload, 4).get(NETNSA_NSID)
            nsid = _S32.unpack_from(value)[0] if value is not None else -1
            return nsid if nsid >= 0 else None
        return None
