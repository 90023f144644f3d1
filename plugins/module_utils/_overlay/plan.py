# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VXLAN overlay that joins the labs of several hosts, as data (pure).

Routed, like flannel's vxlan backend, with no control plane and no multicast (which EC2 does
not carry): each host has one VXLAN device, learning off, and for every peer (another host
of the overlay):

- one permanent FDB entry: the peer's VTEP MAC -> the peer's underlay address;
- per subnet of the peer on a network this host has too: a permanent neighbour entry (the
  subnet's network address -> the peer's VTEP MAC) and a route
  ``SUBNET via NETWORK_ADDRESS dev DEVICE onlink src LOCAL_GATEWAY``.

The VTEP MAC is a function of the underlay address (:func:`vtep_mac`), so every host knows
every peer's MAC from the inventory alone, without asking it. Networks are joined by name:
network ``br0`` on one host reaches ``br0`` on the others, never another network.

The firewall (owner ``nslab:overlay:DEVICE``) keeps the overlay as closed as the rest of the
lab: VXLAN with this VNI is dropped unless it comes from a peer's underlay address (a u32
match reads the VNI and the source); traffic from the device into a bridge is accepted only
from the subnets of that network's peers, and out of a bridge into the device only to them
(neither where ``icc`` is false); nothing is masqueraded between lab subnets (MASQUERADE
applies to the uplink only).
"""


import ipaddress
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_ip
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule, build, owner_comment

DEFAULT_PORT = 4789
MAX_VNI = (1 << 24) - 1
#: VXLAN over IPv4: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 bytes.
OVERHEAD = 50
#: The lab's MTU never exceeds Docker's default, whatever the underlay carries.
LAB_MTU = 1500
#: u32 compares at most this many values per location (XT_U32_MAXSIZE).
U32_VALUES = 10

OVERLAY_OPTIONS = dict(
    vni=dict(type='int', required=True),
    port=dict(type='int', default=DEFAULT_PORT),
    address=dict(type='str'),
    peers=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True),
        address=dict(type='str'),
        networks=dict(type='list', elements='dict', default=[], options=dict(
            network=dict(type='str', required=True),
            subnet=dict(type='str', required=True),
        )),
        # The peer's namespaces on its networks, as its own run of the lab planned them (None:
        # not known in this run; the host then names those its record has from an earlier one).
        namespaces=dict(type='list', elements='dict', options=dict(
            name=dict(type='str', required=True),
            network=dict(type='str', required=True),
            address=dict(type='str', required=True),
        )),
    )),
)


def device_name(vni: int) -> str:
    """The overlay's VXLAN device: ``nslab.VNI`` (at most 14 characters)."""
    return 'nslab.%d' % vni


def vtep_mac(address: str) -> str:
    """The VTEP MAC of the host whose underlay address is ``address``: locally administered,
    unicast, and the address's four bytes, so that peers derive it without asking."""
    return '02:4e:' + ':'.join('%02x' % byte for byte in ipaddress.IPv4Address(address).packed)


def _ipv4(text: Any, label: str, problems: List[str]) -> Optional[str]:
    try:
        address = parse_ip(text)
    except ValueError as exc:
        problems.append('%s %s' % (label, exc))
        return None
    if address.version != 4 or address.is_unspecified or address.is_multicast or address.is_loopback:
        problems.append('%s %s is not a unicast IPv4 address' % (label, address))
        return None
    return str(address)


def _peer_namespaces(raw: Any, networks: Sequence[Mapping[str, Any]], label: str,
                     problems: List[str]) -> Optional[List[Dict[str, str]]]:
    """A peer's ``namespaces`` checked (None stays None: not known in this run): each on one
    of the peer's networks, at an address of that network's subnet."""
    if raw is None:
        return None
    subnets = {member['network']: ipaddress.ip_network(member['subnet']) for member in networks}
    namespaces = []
    for index, item in enumerate(raw):
        name, network = item.get('name'), item.get('network')
        error = netns_name_error(name)
        if error:
            problems.append('%s: namespaces[%d]: %s' % (label, index, error))
            continue
        address = _ipv4(item.get('address'), '%s: namespace %s: address' % (label, name), problems)
        if address is None:
            continue
        if network not in subnets:
            problems.append('%s: namespace %s is on network %s, which is not one of the peer\'s' % (label, name, network))
        elif ipaddress.ip_address(address) not in subnets[network]:
            problems.append('%s: namespace %s: address %s is not in %s, the subnet of network %s'
                            % (label, name, address, subnets[network], network))
        else:
            namespaces.append(dict(name=name, network=network, address=address))
    return namespaces


def overlay_spec(raw: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The overlay argument checked and normalised (None: no overlay); raises InvalidInput."""
    if not raw:
        return None
    problems: List[str] = []
    vni, port = raw.get('vni'), raw.get('port') or DEFAULT_PORT
    if not isinstance(vni, int) or isinstance(vni, bool) or not 1 <= vni <= MAX_VNI:
        problems.append('overlay: vni %r is not a VXLAN network id (1 to %d)' % (vni, MAX_VNI))
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append('overlay: port %r is not a UDP port (1 to 65535)' % (port,))
    address = None
    if raw.get('address'):
        address = _ipv4(raw['address'], 'overlay: address', problems)
    peers, seen = [], {}
    for index, item in enumerate(raw.get('peers') or []):
        name = item.get('name')
        label = 'overlay: peer %s' % (name or '[%d]' % index)
        if not name:
            problems.append('%s needs a name' % label)
            continue
        peer_address = _ipv4(item['address'], '%s: address' % label, problems) if item.get('address') else None
        networks = []
        for member in item.get('networks') or []:
            try:
                subnet = ipaddress.ip_network(str(member.get('subnet')))
            except ValueError:
                problems.append('%s: subnet %r is not an IPv4 network in CIDR form' % (label, member.get('subnet')))
                continue
            networks.append(dict(network=str(member.get('network')), subnet=str(subnet)))
        if name in seen:
            problems.append('overlay: peer %s is listed more than once' % name)
        seen[name] = True
        namespaces = _peer_namespaces(item.get('namespaces'), networks, label, problems)
        peers.append(dict(name=name, address=peer_address, networks=networks, namespaces=namespaces))
    addresses = [peer['address'] for peer in peers if peer['address']] + ([address] if address else [])
    for duplicate in sorted({a for a in addresses if addresses.count(a) > 1}):
        problems.append('overlay: underlay address %s is given to more than one host' % duplicate)
    if problems:
        raise InvalidInput(problems)
    return dict(vni=vni, port=port, device=device_name(vni), address=address, peers=peers)


def overlap_problems(members: Sequence[Tuple[str, Sequence[Tuple[str, str]]]]) -> List[str]:
    """Subnets that overlap across hosts: ``members`` is ``[(host, [(network, subnet)])]``."""
    problems = []
    flat = [(host, network, ipaddress.ip_network(subnet)) for host, networks in members for network, subnet in networks]
    for index, (host, network, subnet) in enumerate(flat):
        for other_host, other_network, other in flat[index + 1:]:
            if other_host != host and subnet.overlaps(other):
                problems.append('the lab subnets of %s (%s, network %s) and %s (%s, network %s) overlap; every host of '
                                'the overlay needs subnets of its own' % (host, subnet, network, other_host, other,
                                                                          other_network))
    return problems


def underlay(spec: Mapping[str, Any], host: Mapping[str, Any], uplink: Optional[str]) -> Dict[str, Any]:
    """This host's end of the underlay: ``address``, ``interface`` and its ``mtu``.

    ``host`` is the host's view as netns_info describes it. The address is the one given,
    which an interface must hold, or the first IPv4 address of ``uplink`` (the default
    route's interface when the lab names none). Raises InvalidInput.
    """
    links = host.get('links') or []
    if spec['address']:
        for link in links:
            if any(str(ipaddress.ip_interface(text).ip) == spec['address'] for text in link.get('addresses') or []):
                return dict(address=spec['address'], interface=link['name'], mtu=link.get('mtu') or 1500)
        raise InvalidInput(['overlay: no interface of this host holds the underlay address %s' % spec['address']])
    if not uplink:
        raise InvalidInput(['overlay: the host has no IPv4 default route to take the underlay address from; '
                            'set lab_overlay_address (or lab_uplink)'])
    for link in links:
        if link['name'] == uplink:
            for text in link.get('addresses') or []:
                address = ipaddress.ip_interface(text)
                if address.version == 4:
                    return dict(address=str(address.ip), interface=uplink, mtu=link.get('mtu') or 1500)
            raise InvalidInput(['overlay: the uplink %s has no IPv4 address to carry the overlay; set '
                                'lab_overlay_address' % uplink])
    raise InvalidInput(['overlay: the uplink %s does not exist' % uplink])


def overlay_layout(spec: Mapping[str, Any], local: Mapping[str, Any], networks: Sequence[Mapping[str, Any]],
                   known: Mapping[str, str], known_namespaces: Optional[Mapping[str, Sequence[Mapping[str, str]]]] = None
                   ) -> Dict[str, Any]:
    """What the overlay is on this host: the plan's ``overlay`` entry.

    ``local`` is :func:`underlay`'s answer; ``networks`` the lab's networks (name, bridge,
    subnet, gateway, icc); ``known`` the underlay addresses of peers recorded by earlier runs,
    used for peers whose address this run does not know (not reached, or ``--limit``), and
    ``known_namespaces`` their namespaces (``{peer: [{name, network, address}]}``), used for
    peers whose namespaces this run does not know: each peer's ``namespaces`` is then None
    where neither knows them. A recorded namespace outside the peer's subnet of its network
    now (the peer's subnet changed since) is not kept.
    """
    known_namespaces = known_namespaces or {}
    device_mtu = local['mtu'] - OVERHEAD
    peers, unknown = [], []
    for peer in spec['peers']:
        address = peer['address'] or known.get(peer['name'])
        if not address:
            unknown.append(peer['name'])
            continue
        if address == local['address']:
            raise InvalidInput(['overlay: peer %s has the underlay address of this host (%s)' % (peer['name'], address)])
        namespaces = peer.get('namespaces')
        if namespaces is None and peer['name'] in known_namespaces:
            namespaces = _still_there(known_namespaces[peer['name']], peer['networks'])
        peers.append(dict(name=peer['name'], address=address, mac=vtep_mac(address), networks=list(peer['networks']),
                          namespaces=None if namespaces is None else [dict(ns) for ns in namespaces]))
    return dict(device=spec['device'], vni=spec['vni'], port=spec['port'], address=local['address'],
                underlay=local['interface'], device_mtu=device_mtu, mtu=min(LAB_MTU, device_mtu),
                mac=vtep_mac(local['address']), peers=peers, unknown=unknown,
                networks=[{key: network[key] for key in ('name', 'bridge', 'subnet', 'gateway', 'icc')}
                          for network in networks])


def _still_there(namespaces: Sequence[Mapping[str, str]], networks: Sequence[Mapping[str, str]]) -> List[Dict[str, str]]:
    """The recorded ``namespaces`` of a peer whose addresses lie in its ``networks``' subnets."""
    subnets = {member['network']: ipaddress.ip_network(member['subnet']) for member in networks}
    kept = []
    for ns in namespaces:
        try:
            inside = ns['network'] in subnets and ipaddress.ip_address(ns['address']) in subnets[ns['network']]
        except (KeyError, TypeError, ValueError):
            continue
        if inside:
            kept.append(dict(name=ns['name'], network=ns['network'], address=ns['address']))
    return kept


def wanted_entries(layout: Mapping[str, Any]) -> Dict[str, Any]:
    """The device's FDB entries ``{(mac, dst)}``, neighbours ``{(ip, mac)}`` and routes
    ``{(dst, via, src)}``: one FDB entry per peer, the others per subnet of a shared network."""
    local = {network['name']: network for network in layout['networks']}
    fdb, neighbours, routes = set(), set(), set()
    for peer in layout['peers']:
        fdb.add((peer['mac'], peer['address']))
        for member in peer['networks']:
            network = local.get(member['network'])
            if network is None:
                continue
            via = str(ipaddress.ip_network(member['subnet']).network_address)
            neighbours.add((via, peer['mac']))
            routes.add((member['subnet'], via, network['gateway']))
    return dict(fdb=fdb, neighbours=neighbours, routes=routes)


def _device_args(layout: Mapping[str, Any]) -> List[str]:
    return ['link', 'add', layout['device'], 'address', layout['mac'], 'mtu', str(layout['device_mtu']),
            'type', 'vxlan', 'id', str(layout['vni']), 'local', layout['address'], 'dev', layout['underlay'],
            'dstport', str(layout['port']), 'nolearning']


def device_matches(layout: Mapping[str, Any], device: Mapping[str, Any]) -> bool:
    """Whether the existing ``device`` (as the adapter reads it) is the overlay's, but for
    what can be changed in place (MTU, up)."""
    return (device.get('kind') == 'vxlan' and device.get('vni') == layout['vni'] and device.get('port') == layout['port']
            and device.get('local') == layout['address'] and device.get('learning') is False
            and device.get('underlay') == layout['underlay'] and device.get('mac') == layout['mac'])


def plan_overlay(layout: Optional[Mapping[str, Any]], device: Optional[Mapping[str, Any]], device_name_: str) -> List[List[str]]:
    """The ``ip``/``bridge`` commands (argument lists, the tool first) from what the device
    holds (``device``: the adapter's reading, None where it does not exist) to ``layout``
    (None: the overlay goes)."""
    if layout is None:
        return [['ip', 'link', 'del', device_name_]] if device is not None else []
    steps: List[List[str]] = []
    if device is not None and not device_matches(layout, device):
        steps.append(['ip', 'link', 'del', layout['device']])
        device = None
    if device is None:
        steps.append(['ip'] + _device_args(layout))
        device = dict(mtu=layout['device_mtu'], up=False, fdb=set(), neighbours=set(), routes=set())
    elif device.get('mtu') != layout['device_mtu']:
        steps.append(['ip', 'link', 'set', layout['device'], 'mtu', str(layout['device_mtu'])])
    if not device.get('up'):
        steps.append(['ip', 'link', 'set', layout['device'], 'up'])
    want = wanted_entries(layout)
    name = layout['device']
    for dst, via, src in sorted(device['routes'] - want['routes']):
        steps.append(['ip', 'route', 'del', dst, 'dev', name])
    for ip, mac in sorted(device['neighbours'] - want['neighbours']):
        steps.append(['ip', 'neigh', 'del', ip, 'dev', name])
    for mac, dst in sorted(device['fdb'] - want['fdb']):
        steps.append(['bridge', 'fdb', 'del', mac, 'dev', name, 'dst', dst, 'self'])
    for mac, dst in sorted(want['fdb'] - device['fdb']):
        steps.append(['bridge', 'fdb', 'append', mac, 'dev', name, 'dst', dst, 'self', 'permanent'])
    for ip, mac in sorted(want['neighbours'] - device['neighbours']):
        steps.append(['ip', 'neigh', 'replace', ip, 'lladdr', mac, 'dev', name, 'nud', 'permanent'])
    for dst, via, src in sorted(want['routes'] - device['routes']):
        steps.append(['ip', 'route', 'replace', dst, 'via', via, 'dev', name, 'onlink', 'src', src])
    return steps


def describe_device(device: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The device for the diff: plain, sorted lists."""
    if device is None:
        return None
    keys = ('kind', 'vni', 'port', 'local', 'underlay', 'learning', 'mac', 'mtu', 'up')
    described = {key: device.get(key) for key in keys}
    described.update(fdb=['%s dst %s' % entry for entry in sorted(device['fdb'])],
                     neighbours=['%s lladdr %s' % entry for entry in sorted(device['neighbours'])],
                     routes=['%s via %s src %s' % entry for entry in sorted(device['routes'])])
    return described


def simulate_overlay(layout: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The device as ``layout`` leaves it (check mode's prediction, and the diff's after)."""
    if layout is None:
        return None
    device = dict(kind='vxlan', vni=layout['vni'], port=layout['port'], local=layout['address'],
                  underlay=layout['underlay'], learning=False, mac=layout['mac'], mtu=layout['device_mtu'], up=True)
    device.update(wanted_entries(layout))
    return device


def _hex(address: str) -> str:
    return '0x%08x' % int(ipaddress.IPv4Address(address))


def overlay_owner(device: str) -> str:
    return owner_comment('overlay', device)


def overlay_rules(layout: Mapping[str, Any], bridges: Sequence[str]) -> List[Rule]:
    """The overlay's rules (see the module docstring); ``bridges`` are every lab bridge."""
    owner = overlay_owner(layout['device'])
    device = layout['device']
    # The VNI is the 3 bytes after the 4 flag bytes of the VXLAN header, which follows the
    # 8-byte UDP header, which follows the IP header of IHL*4 bytes. Written in the form
    # iptables-save prints, which is how the rules compare.
    vni = '0x0>>0x16&0x3c@0xc>>0x8=%s' % hex(layout['vni'])
    matches: List[Tuple[str, Tuple[str, ...]]] = [('udp', ('--dport', str(layout['port']))), ('u32', ('--u32', vni))]
    peers = sorted({peer['address'] for peer in layout['peers']}, key=ipaddress.IPv4Address)
    for start in range(0, len(peers), U32_VALUES):
        chunk = peers[start:start + U32_VALUES]
        matches.append(('u32', ('!', '--u32', '0xc=%s' % ','.join(_hex(address) for address in chunk))))
    rules = [build('filter', 'NSLAB-INPUT', 'DROP', proto='udp', matches=matches, comment=owner)]
    local = {network['name']: network for network in layout['networks']}
    for peer in layout['peers']:
        for member in peer['networks']:
            network = local.get(member['network'])
            if network is None or not network['icc']:
                continue
            rules.append(build('filter', 'NSLAB-INBOUND', 'ACCEPT', src=member['subnet'], in_if=device,
                               out_if=network['bridge'], comment=owner))
            rules.append(build('filter', 'NSLAB-INBOUND', 'ACCEPT', dst=member['subnet'], in_if=network['bridge'],
                               out_if=device, comment=owner))
    rules += [build('filter', 'NSLAB-ISOLATE', 'DROP', in_if=bridge, out_if=device, comment=owner)
              for bridge in bridges]
    return rules


def overlay_collisions(layout: Mapping[str, Any], vxlans: Sequence[Mapping[str, Any]], routes: Sequence[Mapping[str, Any]],
                       own_devices: Sequence[str]) -> List[str]:
    """Why the overlay would take over what the lab did not make; [] when it would not.

    ``vxlans`` are the host's VXLAN devices (the adapter's :func:`parse_device` form, with
    ``name``), ``routes`` its main IPv4 routes as ``ip -j route`` gives them. A device of
    someone else's with the same VNI and port would refuse ours; a route of someone else's
    to a peer's subnet would be replaced, and one that overlaps it would take its traffic.
    """
    problems = []
    for device in vxlans:
        if device['name'] in own_devices or device['name'] == layout['device']:
            continue
        if device.get('vni') == layout['vni'] and device.get('port') == layout['port']:
            problems.append('overlay: the VXLAN device %s, which the lab did not make, already uses VNI %d on port %d; '
                            'choose another lab_overlay.vni' % (device['name'], layout['vni'], layout['port']))
    subnets = [(peer['name'], ipaddress.ip_network(member['subnet'])) for peer in layout['peers']
               for member in peer['networks'] if member['network'] in {n['name'] for n in layout['networks']}]
    for route in routes:
        if route.get('dev') in own_devices or route.get('dev') == layout['device'] or route.get('dst') == 'default':
            continue
        try:
            destination = ipaddress.ip_network(route['dst'], strict=False)
        except (KeyError, ValueError):
            continue
        for peer, subnet in subnets:
            if destination.overlaps(subnet):
                problems.append('overlay: the route to %s via %s (not the lab\'s) overlaps %s, the subnet of peer %s; the '
                                'lab never replaces a route it did not make' % (route['dst'], route.get('dev'), subnet, peer))
    return problems
