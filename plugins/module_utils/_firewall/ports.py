# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A published port: its one type (:class:`PublishedPort`), its one parser (:func:`parse_ports`)
and when two of them clash (:func:`conflicts`).

A leaf: the lab's checks, its collisions, the conntrack client and the controller's summary
all use it without carrying the firewall's rules along.
"""


import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput

LOOPBACK_NETWORK = ipaddress.ip_network('127.0.0.0/8')
#: The fields of a port in plain data (a lab's spec and plan): all but its destination,
#: which the member it belongs to gives.
PORT_FIELDS = ('proto', 'host_ip', 'host_port', 'container_port')
_SPEC = re.compile(r'^(?:(?P<ip>[0-9.]*):)?(?P<host>[0-9]+(?:-[0-9]+)?):(?P<container>[0-9]+(?:-[0-9]+)?)'
                   r'(?:/(?P<proto>[A-Za-z]+))?$')


@dataclass(frozen=True, order=True)
class PublishedPort:
    """One host port DNAT'ed to ``destination:container_port``; ``host_ip`` None listens on
    every address of the host."""

    proto: str
    host_ip: Optional[str]
    host_port: int
    destination: str
    container_port: int

    @classmethod
    def from_dict(cls, fields: Dict[str, Any], destination: str) -> 'PublishedPort':
        """The port that :meth:`as_dict` wrote, published to ``destination``."""
        return cls(fields['proto'], fields['host_ip'], fields['host_port'], destination, fields['container_port'])

    def as_dict(self) -> Dict[str, Any]:
        """The port as plain data (JSON, Jinja), without its destination."""
        return {key: getattr(self, key) for key in PORT_FIELDS}

    @property
    def loopback_only(self) -> bool:
        return self.host_ip is not None and ipaddress.ip_address(str(self.host_ip)) in LOOPBACK_NETWORK

    @property
    def reaches_loopback(self) -> bool:
        """Whether the port answers on 127.0.0.1 (which needs route_localnet)."""
        return self.host_ip is None or self.loopback_only

    def overlaps(self, other: 'PublishedPort') -> bool:
        return (self.proto, self.host_port) == (other.proto, other.host_port) and (
            self.host_ip is None or other.host_ip is None or self.host_ip == other.host_ip)

    def as_text(self) -> str:
        """The port as a Docker ``-p`` spec, which :func:`parse_ports` reads back."""
        host = '%s:' % self.host_ip if self.host_ip else ''
        return '%s%d:%d/%s' % (host, self.host_port, self.container_port, self.proto)

    def as_spec(self) -> str:
        return '%s -> %s' % (self.as_text(), self.destination)

    def conntrack_deletion_command(self) -> str:
        """The ``conntrack`` command a person would type to delete the flows through this port."""
        words = ['conntrack', '-D', '-p', self.proto]
        if self.host_ip is not None:
            words += ['--orig-dst', self.host_ip]
        words += ['--orig-port-dst', str(self.host_port), '--reply-src', self.destination,
                  '--reply-port-src', str(self.container_port)]
        return ' '.join(words)


def _port_range(text: str) -> List[int]:
    first_text, unused, last_text = text.partition('-')
    first = int(first_text)
    last = int(last_text) if last_text else first
    if not 1 <= first <= last <= 65535:
        raise ValueError(text)
    return list(range(first, last + 1))


def _read(spec: object) -> Tuple[str, Optional[str], List[int], List[int]]:
    """``(proto, host_ip, host ports, container ports)`` of one spec; InvalidInput.

    Every parse of a port's text comes through here (the unit tests count them).
    """
    match = _SPEC.match(spec.strip()) if isinstance(spec, str) else None
    if not match:
        raise InvalidInput(['port %r is not [host_ip:]host_port[-end]:container_port[-end][/tcp|udp]'
                            ' (IPv4 only, host port required)' % (spec,)])
    proto = (match.group('proto') or 'tcp').lower()
    if proto not in ('tcp', 'udp'):
        raise InvalidInput(['port %r: protocol %s is not tcp or udp' % (spec, proto)])
    host_ip = match.group('ip') or None
    if host_ip is not None:
        try:
            address = ipaddress.ip_address(str(host_ip))
        except ValueError:
            raise InvalidInput(['port %r: host address %r is not an IPv4 address' % (spec, host_ip)])
        host_ip = None if address.is_unspecified else str(address)
    try:
        host_ports = _port_range(match.group('host'))
        container_ports = _port_range(match.group('container'))
    except ValueError:
        raise InvalidInput(['port %r: ports must be 1..65535, ranges low-high' % (spec,)])
    if len(host_ports) != len(container_ports):
        raise InvalidInput(['port %r: the host range has %d ports and the container range %d; they must'
                            ' be the same length' % (spec, len(host_ports), len(container_ports))])
    return proto, host_ip, host_ports, container_ports


def parse_ports(spec: object, destination: str) -> List[PublishedPort]:
    """The ports of one Docker ``-p`` spec: ``[host_ip:]host_port[-end]:port[-end][/tcp|udp]``."""
    proto, host_ip, host_ports, container_ports = _read(spec)
    return [PublishedPort(proto, host_ip, host, destination, container)
            for host, container in zip(host_ports, container_ports)]


def ports_by_destination(items: Sequence[Dict[str, Any]]) -> Dict[Tuple[str, str], List[PublishedPort]]:
    """``{(bridge, destination): [PublishedPort]}`` of a lab plan's ``publish`` items, whose
    ports are plain data (:meth:`PublishedPort.as_dict`)."""
    return {(item['bridge'], item['destination']):
            [PublishedPort.from_dict(port, item['destination']) for port in item['ports']]
            for item in items}


def conflicts(ports: Sequence[PublishedPort], others: Sequence[PublishedPort],
              owner_of: Optional[Callable[[PublishedPort], str]] = None) -> List[str]:
    """Messages for every port that listens where one of ``others`` already does.

    Only ports of one protocol and host port can overlap, so ``others`` are grouped by
    those: a lab of a thousand ports costs a thousand lookups, not a million comparisons.
    """
    same = others is ports
    by_port: Dict[Tuple[str, int], List[Tuple[int, PublishedPort]]] = {}
    for position, other in enumerate(others):
        by_port.setdefault((other.proto, other.host_port), []).append((position, other))
    messages = []
    for index, port in enumerate(ports):
        for position, other in by_port.get((port.proto, port.host_port), ()):
            # Identical ports of one destination were merged before; any other overlap,
            # even an identical port of the same address under another bridge, clashes.
            if (same and position <= index) or not port.overlaps(other):
                continue
            where = ' by %s' % owner_of(other) if owner_of else ''
            messages.append('host port %d/%s is published twice: %s and %s%s' % (
                port.host_port, port.proto, port.as_spec(), other.as_spec(), where))
    return messages
