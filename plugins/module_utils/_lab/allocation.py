# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses for the namespaces that omit theirs, against what the host holds now.

Stable: a namespace that already holds an address of its network keeps it, whatever was
added or removed around it; a new one gets the lowest address that no interface on the
host holds, that is not the gateway and that no entry asks for.
"""

import ipaddress
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import Owned
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput


def _held_addresses(info: Dict[str, Any], subnet: Union[ipaddress.IPv4Network, ipaddress.IPv6Network]) -> Dict[str, Tuple[Optional[str], str]]:
    """``{address: (namespace or None, link)}`` for the addresses in ``subnet`` the host holds now."""
    held: Dict[str, Tuple[Optional[str], str]] = {}
    views = [(None, info.get('host') or {})] + sorted((info.get('namespaces') or {}).items())
    for netns, view in views:
        for link in view.get('links') or []:
            for text in link.get('addresses') or []:
                address = ipaddress.ip_interface(str(text)).ip
                if address in subnet:
                    held.setdefault(str(address), (netns, link['name']))
    return held


def allocate(spec: Dict[str, Any], info: Dict[str, Any], releasing: Callable[[Tuple[Optional[str], str]], bool]) -> None:
    """Give every present member an address: its own, the one it holds, or the lowest free one.

    An address held where the lab's own plan takes it away (``releasing((netns, link))``: a
    namespace of the lab this run deletes, or a link of the lab's that this run re-addresses
    or moves to another network) is free for a member that declares it: the run removes
    before it builds, and re-addresses every link in one step.
    """
    problems = []
    address: Optional[str]  # one the host holds, then the one a member keeps, if any
    for network in spec['networks']:
        subnet = ipaddress.ip_network(str(network['subnet']))
        members = [(ns, m) for ns in spec['namespaces'] for m in ns['members']
                   if m['network'] == network['name']]
        ours = {(ns['name'], m['interface']) for ns, m in members}
        held = _held_addresses(info, subnet)
        taken = {network['gateway']}
        for ns, member in members:
            if ns['state'] == 'present' and member['address']:
                holder = held.get(member['address'])
                if holder and holder not in ours and holder != (None, network['bridge']) and not releasing(holder):
                    problems.append('namespace %s: address %s is in use by %s on the host' % (
                        ns['name'], member['address'], _holder_text(holder)))
                taken.add(member['address'])
        # Addresses held by anything but the members being planned are in use; so are those
        # of members being removed in this run, until the run has removed them.
        for address, holder in held.items():
            if holder not in ours or any(ns['state'] == 'absent' and (ns['name'], m['interface']) == holder
                                         for ns, m in members):
                if holder != (None, network['bridge']):
                    taken.add(address)
        current = {holder: address for address, holder in held.items()}
        for ns, member in members:
            if ns['state'] != 'present' or member['address']:
                continue
            address = current.get((ns['name'], member['interface']))
            if address and address not in taken:
                member['address'] = address
                taken.add(address)
        free = (str(host) for host in subnet.hosts() if str(host) not in taken)
        for ns, member in members:
            if ns['state'] == 'present' and not member['address']:
                member['address'] = next(free, None)
                if member['address'] is None:
                    problems.append('network %s: no free address left in %s for namespace %s' % (
                        network['name'], subnet, ns['name']))
                else:
                    taken.add(member['address'])
    if problems:
        raise InvalidInput(problems)


def releasing(spec: Dict[str, Any], owned: Optional[Owned]) -> Callable[[Tuple[Optional[str], str]], bool]:
    """Whether the lab's plan takes the address away from a holder ``(netns, link)``: the lab's
    namespaces that ``spec`` no longer declares, and the namespace ends of the lab's own pairs
    (the run gives each the address ``spec`` declares for it, or deletes it)."""
    if owned is None:
        return lambda holder: False
    staying = {ns['name'] for ns in spec['namespaces'] if ns['state'] == 'present'}
    leaving = set(owned.namespaces) - staying
    links = {(netns, peer) for netns in owned.namespaces for unused, peer in owned.links(netns)}
    return lambda holder: holder[0] in leaving or holder in links


def _holder_text(holder: Tuple[Optional[str], str]) -> str:
    netns, link = holder
    return '%s in %s' % (link, 'namespace %s' % netns if netns else 'the host namespace')
