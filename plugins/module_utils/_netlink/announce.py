# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Telling the neighbours that an address has a new link-layer address (gratuitous ARP).

When an address comes back on a new interface (a namespace made again, renamed, two
namespaces swapping addresses), the other namespaces of the bridge and the host keep the
old MAC in their neighbour caches, and their traffic is lost until the entry ages out
(moby#36069, fixed in Docker 27 the same way, moby#48808). The kernel's ``arp_notify`` does
not help on a veth. So the interface announces its address itself: a broadcast ARP request
for its own address (RFC 5227's announcement), which Linux takes as a gratuitous ARP and
applies to an existing entry at once, whatever its lock time.
"""


import ipaddress
import socket
import struct
from typing import TYPE_CHECKING, Iterable, List, Optional, Tuple

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import Netlink
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step

ETH_P_ARP = 0x0806
_BROADCAST = b'\xff' * 6


def arp_announcement(mac: bytes, address: str) -> bytes:
    """The Ethernet frame announcing that ``address`` (IPv4) is at ``mac``."""
    ip = socket.inet_aton(address)
    arp = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + ip + b'\x00' * 6 + ip
    return _BROADCAST + mac + struct.pack('!H', ETH_P_ARP) + arp


def announced(steps: Iterable['Step']) -> List[Tuple[Optional[str], str, str]]:
    """``[(netns, interface, address)]``: the IPv4 addresses that ``steps`` add in a namespace."""
    found = []
    for step in steps:
        if step.op == 'add_address' and step.netns is not None:
            address = ipaddress.ip_interface(step.args['address'])
            if address.version == 4:
                found.append((step.netns, step.name, str(address.ip)))
    return found


def announce(netlink: 'Netlink', addresses: Iterable[Tuple[Optional[str], str, str]]) -> List[str]:
    """Send one announcement per address from its interface; say what could not be sent
    (a neighbour then learns the address when its entry ages out, as before)."""
    failures = []
    for netns, interface, address in addresses:
        try:
            with netlink.opened_in(netns, lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                                                socket.htons(ETH_P_ARP))) as sock:
                sock.bind((interface, ETH_P_ARP))
                sock.send(arp_announcement(sock.getsockname()[4], address))
        except OSError as exc:
            failures.append('%s on %s in %s: %s' % (address, interface, netns, exc))
    return failures
