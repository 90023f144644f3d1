# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a lab would collide with on its host, found before anything is changed.

Pure checks of a lab spec (:func:`spec.lab_spec`) against what the host holds now:

- a published host port that a host socket listens on (a DNAT rule would steal its traffic),
  or that another owner's DNAT rule already publishes (Docker's, a user's, another lab's):
  Docker refuses such a port as "already allocated", and so does the lab;
- a gateway that is already one of the host's own addresses, or a subnet that overlaps a
  network the host is connected to (the host would lose its route to it);
- an uplink the host does not have, and a bridge name the host uses for a link of another
  kind.

Addresses on the lab's own bridges are not the host's. The readers that fill ``listening``
and ``foreign`` live in :mod:`collision_readers`; here they are plain data, so every
check runs in unit tests. A lab may publish thousands of ports: the port checks group both
sides by protocol and port and never compare every pair.
"""


import bisect
import ipaddress
from collections import namedtuple
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule, owner_parts
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Ruleset

#: A socket that receives on a host port: a TCP socket in LISTEN or an unconnected UDP
#: socket. ``address`` is IPv4 text ('0.0.0.0' for any), '::' for an IPv6 socket on any
#: address (dual-stack unless IPV6_V6ONLY, which /proc does not show), or other IPv6 text;
#: an IPv4-mapped IPv6 address is given as its IPv4 address. ``process`` names who holds
#: it, when known ("python3 (pid 42)").
Listener = namedtuple('Listener', 'proto address port inode process')

#: A host port range another owner publishes with a DNAT (or REDIRECT) rule in the nat
#: table: ``destination`` is the ``-d`` network (None: any address) and ``negated`` whether
#: it was ``! -d``; ``line`` is the rule as iptables-save prints it. ``bridge`` and
#: ``address`` are set for the rules of nslab.net (another lab's, or port_publish's).
ForeignPort = namedtuple('ForeignPort', 'proto first last destination negated line bridge address')

_PROTOCOLS = {'tcp': 'tcp', '6': 'tcp', 'udp': 'udp', '17': 'udp'}
_WILDCARDS = ('0.0.0.0', '::')


# -- what the lab publishes ---------------------------------------------------------------

def _published(spec: Dict[str, Any]) -> List[Tuple[str, PublishedPort]]:
    """``[(namespace name, PublishedPort)]`` of every present namespace, in spec order: the
    ports lab_spec parsed, not their text again."""
    found = []
    for ns in spec.get('namespaces') or []:
        if ns.get('state', 'present') != 'present':
            continue
        for member in ns.get('members') or []:
            found += [(ns['name'], PublishedPort.from_dict(port, member.get('address')))
                      for port in member.get('ports') or []]
    return found


def published_ports(spec: Dict[str, Any]) -> Set[Tuple[str, int]]:
    """The ``(proto, host port)`` pairs the lab publishes: what the socket reader needs to keep."""
    return {(mapping.proto, mapping.host_port) for unused, mapping in _published(spec)}


# -- another owner's DNAT rules -----------------------------------------------------------

def _port_ranges(text: str) -> List[Tuple[int, int]]:
    """``[(first, last)]`` from ``8080``, ``1000:2000`` or a multiport list ``80,443,1000:2000``."""
    ranges = []
    first: Union[str, int]  # the text, then the port it names
    last: Union[str, int]
    for part in text.split(','):
        first, unused, last = part.partition(':')
        first = int(first) if first else 0
        last = int(last) if last else (65535 if unused else first)
        ranges.append((first, last))
    return ranges


def _parse_dnat(args: Sequence[str]) -> Optional[Tuple[str, List[Tuple[int, int]], Optional[Union[ipaddress.IPv4Network, ipaddress.IPv6Network]], bool]]:
    """``(proto, [(first, last)], destination, negated)`` of a DNAT/REDIRECT rule that names its
    destination ports, or None for any other rule (or one this cannot reason about)."""
    proto = destination = ranges = target = None
    negated = False
    negate = False
    index = 0
    while index < len(args):
        token = args[index]
        value = args[index + 1] if index + 1 < len(args) else None
        if token == '!':
            negate = True
            index += 1
            continue
        if token == '-p':
            if negate:
                return None
            proto = _PROTOCOLS.get(value)
        elif token == '-d':
            try:
                destination = ipaddress.ip_network(str(value), strict=False)
            except ValueError:
                return None
            negated = negate
        elif token in ('--dport', '--destination-port', '--dports', '--destination-ports', '--ports'):
            if negate or value is None:
                return None  # every port but some: too broad to name, and rare; or malformed
            try:
                ranges = _port_ranges(value)
            except ValueError:
                return None
        elif token in ('-j', '-g'):
            target = value
        negate = False
        index += 2 if token.startswith('-') and value is not None and not value.startswith('-') else 1
    if target not in ('DNAT', 'REDIRECT') or proto is None or not ranges:
        return None
    return proto, ranges, destination, negated


def _publish_owner(comment: Optional[str]) -> Optional[Tuple[str, str]]:
    """``(bridge, address)`` of a destination's publish comment, or None."""
    parts = owner_parts(comment, 'publish')
    return (parts[0], parts[1]) if parts and len(parts) == 2 else None


def foreign_published(ruleset: 'Ruleset', own_bridges: Iterable[str] = ()) -> List[ForeignPort]:
    """The host ports that DNAT rules of other owners publish, as :class:`ForeignPort` items.

    ``ruleset`` is a :class:`rules.Ruleset` holding every chain of the nat table
    (:func:`collision_readers.nat_ruleset`). A rule counts when it DNATs (or
    REDIRECTs) and matches its destination ports itself (``--dport``, a range, multiport),
    wherever it is: a rule that DNATs every port of a chain reached through port matches
    elsewhere (kube-proxy's) is not followed. nslab.net's own publish rules count unless
    their bridge is in ``own_bridges``: this lab rewrites those itself.
    """
    own = set(own_bridges)
    found = []
    for chain in ruleset.chains.get('nat', ()):
        for rule in ruleset.chain_rules('nat', chain):
            parsed = _parse_dnat(rule.args)
            if parsed is None:
                continue
            owner = _publish_owner(rule.comment)
            if owner and owner[0] in own:
                continue
            proto, ranges, destination, negated = parsed
            line = Rule('nat', chain, rule.args).as_line()
            for first, last in ranges:
                found.append(ForeignPort(proto, first, last, destination, negated, line,
                                         owner[0] if owner else None, owner[1] if owner else None))
    return found


# -- the checks ---------------------------------------------------------------------------

def _port_text(ports: Iterable[int], proto: str, host_ip: Optional[str]) -> str:
    """``host port 8000/tcp is`` or ``host ports 8000-8009, 8020/tcp are``, on ``host_ip`` if given."""
    ports = sorted(set(ports))
    runs: List[List[int]] = []
    for port in ports:
        if runs and port == runs[-1][1] + 1:
            runs[-1][1] = port
        else:
            runs.append([port, port])
    text = ', '.join('%d' % a if a == b else '%d-%d' % (a, b) for a, b in runs)
    where = '%s:' % host_ip if host_ip else ''
    if len(ports) == 1:
        return 'host port %s%s/%s is' % (where, text, proto)
    return 'host ports %s%s/%s are' % (where, text, proto)


def _socket_text(listener: Listener) -> str:
    address = '[%s]' % listener.address if ':' in listener.address else listener.address
    who = listener.process or 'a process'
    return '%s listens on %s:%d' % (who, address, listener.port)


def _listener_collides(mapping: PublishedPort, listener: Listener) -> bool:
    if ':' in listener.address and listener.address != '::':
        return False  # an IPv6 socket on a specific address never sees the IPv4 traffic a DNAT takes
    return listener.address in _WILDCARDS or mapping.host_ip in (None, listener.address)


def _foreign_collides(mapping: PublishedPort, foreign: ForeignPort) -> bool:
    if mapping.host_ip is None or foreign.destination is None:
        return True
    inside = ipaddress.ip_address(str(mapping.host_ip)) in foreign.destination
    return inside != foreign.negated


def _lab_of(bridge: str, other_labs: Dict[str, str]) -> str:
    lab = other_labs.get(bridge)
    return 'bridge %s of lab %s' % (bridge, lab) if lab else 'bridge %s' % bridge


def _foreign_holder(foreign: ForeignPort, other_labs: Dict[str, str]) -> Tuple[Tuple[str, str], str]:
    """(group key, text): ports of one owner's rules collapse into one message."""
    if foreign.bridge is not None:
        lab = other_labs.get(foreign.bridge)
        if lab:
            return ('lab', foreign.bridge), 'lab %s (bridge %s)' % (lab, foreign.bridge)
        return ('bridge', foreign.bridge), 'nslab.net rules of bridge %s, which is not this lab\'s' % foreign.bridge
    return ('rule', foreign.line), 'the nat rule %s' % foreign.line


def _port_collisions(published: Iterable[Tuple[str, PublishedPort]], order: Dict[str, int], listening: Iterable[Listener],
                     foreign: Iterable[ForeignPort], other_labs: Dict[str, str]) -> List[str]:
    listeners: Dict[Tuple[str, int], List[Listener]] = {}
    for listener in listening:
        listeners.setdefault((listener.proto, listener.port), []).append(listener)
    # {(namespace, proto, host_ip, holder key): [holder text, ports]}, in first-found order
    groups: Dict[Tuple[str, str, Optional[str], Tuple[str, Any]], List[Any]] = {}

    def note(ns: str, mapping: PublishedPort, key: Tuple[str, Any], text: str) -> None:
        entry = groups.setdefault((ns, mapping.proto, mapping.host_ip, key), [text, []])
        entry[1].append(mapping.host_port)

    by_port: Dict[str, Dict[int, List[Tuple[str, PublishedPort]]]] = {}
    for ns, mapping in published:
        sockets = [listener for listener in listeners.get((mapping.proto, mapping.host_port), ())
                   if _listener_collides(mapping, listener)]
        if sockets:
            texts = list(dict.fromkeys(_socket_text(listener) for listener in sockets))
            note(ns, mapping, ('listen', mapping.host_port), '; '.join(texts))
        by_port.setdefault(mapping.proto, {}).setdefault(mapping.host_port, []).append((ns, mapping))
    ports = {proto: sorted(per_port) for proto, per_port in by_port.items()}
    for item in foreign:
        sorted_ports = ports.get(item.proto, [])
        start = bisect.bisect_left(sorted_ports, item.first)
        stop = bisect.bisect_right(sorted_ports, item.last)
        if start == stop:
            continue
        key, text = _foreign_holder(item, other_labs)
        for port in sorted_ports[start:stop]:
            for ns, mapping in by_port[item.proto][port]:
                if _foreign_collides(mapping, item):
                    note(ns, mapping, key, text)
    messages = []
    for (ns, proto, host_ip, key), (text, found) in sorted(
            groups.items(), key=lambda item: (order[item[0][0]], item[0][3][0] != 'listen', min(item[1][1]))):
        if key[0] == 'listen':
            messages.append('namespace %s: %s in use on the host (%s)' % (ns, _port_text(found, proto, host_ip), text))
        else:
            messages.append('namespace %s: %s already published by %s' % (ns, _port_text(found, proto, host_ip), text))
    return messages


def _host_links(host_state: Dict[str, Any]) -> List[Dict[str, Any]]:
    return (host_state.get('host') or {}).get('links') or []


def _address_collisions(network: Dict[str, Any], links: Iterable[Dict[str, Any]], own: Set[str], other_labs: Dict[str, str]) -> List[str]:
    """The gateway held by another link, or the subnet overlapping a network of one."""
    messages = []
    label = 'network %s' % network['name']
    subnet = ipaddress.ip_network(str(network['subnet']))
    gateway = ipaddress.ip_address(str(network['gateway'])) if network.get('gateway') else None
    for link in links:
        if link['name'] in own:
            continue
        where = _lab_of(link['name'], other_labs) if link['name'] in other_labs else '%s on the host' % link['name']
        interfaces = []
        for text in link.get('addresses') or []:
            interface = ipaddress.ip_interface(str(text))
            if interface.version == 4:
                interfaces.append(interface)
        held = [interface for interface in interfaces if interface.ip == gateway]
        if held:
            messages.append('%s: gateway %s is already an address of %s (%s); the lab would take it away'
                            ' from there' % (label, gateway, where, held[0]))
            continue  # the overlap follows, and says nothing more
        networks = list(dict.fromkeys(interface.network for interface in interfaces
                                      if interface.network.overlaps(subnet)))
        for other in networks:
            shown = [str(interface) for interface in interfaces if interface.network == other]
            messages.append('%s: subnet %s overlaps %s, the network of %s (%s); the host would no longer'
                            ' know which way to send it' % (label, subnet, other, where, ', '.join(shown)))
    return messages


def host_collisions(spec: Dict[str, Any], host_state: Dict[str, Any], owned_bridges: Iterable[str] = (),
                    other_labs: Optional[Dict[str, str]] = None, listening: Iterable[Listener] = (),
                    foreign: Iterable[ForeignPort] = ()) -> List[str]:
    """Every way the lab ``spec`` collides with the host, as messages (empty: none).

    ``spec``: what :func:`spec.lab_spec` returns. ``host_state``: the host as
    ``model.describe`` gives it (``{'host': {'links': [...], 'default_routes': {...}}}``).
    ``owned_bridges``: the bridges this lab made (their addresses are the lab's, not the
    host's). ``other_labs``: ``{bridge: lab name}`` of the bridges other labs on this host
    recorded, to name them. ``listening``: :class:`Listener` items
    (:func:`collision_readers.listening_sockets`). ``foreign``: :class:`ForeignPort`
    items (:func:`foreign_published`); those of the lab's own bridges are ignored. A
    teardown collides with nothing.
    """
    if spec.get('state', 'present') != 'present':
        return []
    other_labs = dict(other_labs or {})
    networks = spec.get('networks') or []
    own = set(owned_bridges)
    links = _host_links(host_state)
    by_name = {link['name']: link for link in links}
    messages = []
    for network in networks:
        label = 'network %s' % network['name']
        existing = by_name.get(network['bridge'])
        if existing is not None and existing.get('kind') != 'bridge':
            messages.append('%s: bridge %s cannot be made: the host already has a link of that name, of kind %s'
                            % (label, network['bridge'], existing.get('kind') or 'none (a device)'))
        # An omitted uplink is the default route's interface, read with the links: it exists.
        uplink = network.get('uplink')
        if uplink is not None and uplink not in by_name:
            messages.append('%s: uplink %s does not exist on the host (its links: %s)' % (
                label, uplink, ', '.join(sorted(by_name)) or 'none'))
        if network.get('subnet'):
            messages += _address_collisions(network, links, own, other_labs)
    order = {ns['name']: index for index, ns in enumerate(spec.get('namespaces') or [])}
    lab_bridges = own | {n['bridge'] for n in networks}
    foreign = [item for item in foreign if item.bridge is None or item.bridge not in lab_bridges]
    messages += _port_collisions(_published(spec), order, listening, foreign, other_labs)
    return messages


def host_warnings(spec: Dict[str, Any], host_state: Dict[str, Any]) -> List[str]:
    """What is allowed but likely not meant: NAT with no uplink and no default route.

    Without either, a network's traffic is masqueraded out of any interface but its bridge
    (the role documents this), which on a host without a default route reaches nothing
    beyond the host's own networks.
    """
    if spec.get('state', 'present') != 'present':
        return []
    default_route = ((host_state.get('host') or {}).get('default_routes') or {}).get('4') or {}
    warnings = []
    for network in spec.get('networks') or []:
        if network.get('masquerade', True) and network.get('uplink') is None and not default_route.get('interface'):
            warnings.append('network %s: the host has no IPv4 default route and no uplink is given, so its'
                            ' traffic is masqueraded out of every interface but %s; set uplink to say which'
                            % (network['name'], network['bridge']))
    return warnings
