# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsing of the addresses users write in tasks (``10.0.0.1/24``, ``2001:db8::1/64``).

Addresses are normalised to the text the kernel reports back, so desired and observed sets
compare as plain strings.
"""


import ipaddress
from typing import Iterable, List, Sequence, Tuple, Union

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput


def parse_interface_address(text: object) -> str:
    """Return the normalised ``address/prefix`` for ``text`` or raise ValueError saying why."""
    if not isinstance(text, str) or '/' not in text:
        raise ValueError("address %r needs a prefix length, e.g. 10.0.0.1/24" % (text,))
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError:
        raise ValueError("address %r is not an IPv4 or IPv6 address with a prefix length" % (text,))
    net = iface.network
    if iface.version == 4 and net.prefixlen < 31:
        # The kernel accepts these, but nothing could reach such a host, so it is a typo.
        if iface.ip == net.network_address:
            raise ValueError("address %r is the network address of %s" % (text, net))
        if iface.ip == net.broadcast_address:
            raise ValueError("address %r is the broadcast address of %s" % (text, net))
    if iface.ip.is_multicast or iface.ip.is_unspecified:
        raise ValueError("address %r cannot be assigned to an interface" % (text,))
    return iface.with_prefixlen


def parse_address_list(texts: Iterable[object]) -> Tuple[List[str], List[str]]:
    """Normalise a task's address list: return ``(sorted addresses, problems)``."""
    addresses, problems, seen = [], [], set()
    for text in texts:
        try:
            address = parse_interface_address(text)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if address in seen:
            problems.append('address %s is listed twice' % address)
        seen.add(address)
        addresses.append(address)
    return sorted_addresses(addresses), problems


def sorted_addresses(addresses: Iterable[str]) -> List[str]:
    """Distinct normalised addresses in a stable order: IPv4 first, then by address."""
    def key(address: str) -> Tuple[int, Union[ipaddress.IPv4Address, ipaddress.IPv6Address], int]:
        iface = ipaddress.ip_interface(address)
        return (iface.version, iface.ip, iface.network.prefixlen)
    return sorted(set(addresses), key=key)


def parse_gateway(text: object, addresses: Sequence[str]) -> str:
    """Return the normalised gateway ``text``; it must lie in the subnet of one of ``addresses``.

    ``addresses`` are normalised interface addresses; an empty list skips the subnet check,
    because the end may already carry addresses the task does not manage.
    """
    try:
        gateway = ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise ValueError("gateway %r is not an IP address" % (text,))
    if addresses:
        networks = [ipaddress.ip_interface(a).network for a in addresses]
        same_family = [n for n in networks if n.version == gateway.version]
        if not any(gateway in n for n in same_family):
            raise ValueError("gateway %s is not in the subnet of any address of its interface (%s)"
                             % (gateway, ', '.join(addresses)))
        if any(gateway == ipaddress.ip_interface(a).ip for a in addresses):
            raise ValueError("gateway %s is the interface's own address" % (gateway,))
    return str(gateway)


def is_link_local(address: str) -> bool:
    """True for an IPv6 link-local address, which the kernel adds by itself and we never manage."""
    return ipaddress.ip_interface(address).ip.is_link_local and ':' in address


def parse_ip(text: object) -> Union[ipaddress.IPv4Address, ipaddress.IPv6Address]:
    """``text`` as an IP address, or ValueError; the message asks for IPv4, all the lab uses."""
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        raise ValueError('%r is not an IPv4 address' % (text,))


def ipv6_refused(text: object) -> str:
    """The message for an IPv6 address or network where only IPv4 is supported."""
    return '%s is IPv6; only IPv4 is supported' % (text,)


def parse_ipv4(text: object) -> ipaddress.IPv4Address:
    """``text`` as an IPv4 address, or ValueError saying why not (the caller names the value)."""
    address = parse_ip(text)
    if not isinstance(address, ipaddress.IPv4Address):
        raise ValueError(ipv6_refused(text))
    return address


def parse_subnet(text: str, bridge: str) -> str:
    """The IPv4 network ``text`` names; host bits are an error, so a typo is not widened."""
    try:
        network = ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        raise InvalidInput(['bridge %s: subnet %r is not an IPv4 network in CIDR form' % (bridge, text)])
    if network.version != 4:
        raise InvalidInput(['bridge %s: subnet %s' % (bridge, ipv6_refused(text))])
    if str(network) != text and '/' in text:
        raise InvalidInput(['bridge %s: subnet %s has host bits set; did you mean %s?' % (bridge, text, network)])
    if '/' not in text:
        raise InvalidInput(['bridge %s: subnet %s needs a prefix length, e.g. %s/24' % (bridge, text, text)])
    return str(network)
