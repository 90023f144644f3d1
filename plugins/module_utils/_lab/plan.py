# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's planning: the role nslab.net.lab's variables into the collection's module inputs.

Two pure steps, both run before anything changes (by nslab.net.lab_network on the target,
and as filters of the same names on the controller):

- :func:`lab_spec` checks the role's variables as a whole (what an argument spec cannot:
  subnets that overlap, an address outside its subnet or given twice, a host port published
  twice, a derived link name longer than Linux allows) and normalises them;
- :func:`lab_plan` allocates the omitted addresses against what the host holds now (in the
  form nslab.net.netns_info returns) and turns the spec into the list arguments of the
  collection's modules, which lab_network runs in turn in one process.

Address allocation is stable: a namespace that already holds an address of its network
keeps it, whatever was added or removed around it; a new one gets the lowest address that
no interface on the host holds, that is not the gateway and that no entry asks for.
"""


import ipaddress
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import Owned, lab_name_error, removals
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import interface_name_error, netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import (
    firewall_interface_error, parse_subnet)
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import conflicts, parse_port_spec
from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import (
    LAB_MTU, OVERLAY_OPTIONS, overlap_problems, overlay_layout, overlay_spec, underlay)
from ansible_collections.nslab.net.plugins.module_utils._names.plan import names_layout
from ansible_collections.nslab.net.plugins.module_utils._names.spec import name_settings
from ansible_collections.nslab.net.plugins.module_utils._services.plan import service_name_error
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates

NETWORK_KEYS = ('name', 'bridge', 'subnet', 'gateway', 'uplink', 'masquerade', 'icc')
MEMBER_KEYS = ('network', 'address', 'publish', 'interface', 'host_interface')
NAMESPACE_KEYS = ('name', 'state', 'address', 'publish', 'networks', 'command', 'chdir', 'dns', 'dns_search',
                  'extra_hosts')
NAME_KEYS = ('dns', 'dns_search', 'extra_hosts')


def _unknown_keys(item: Dict[str, Any], allowed: Sequence[str], what: str) -> List[str]:
    return ['%s: unknown option %s (expected one of %s)' % (what, key, ', '.join(allowed))
            for key in sorted(set(item) - set(allowed))]


def _networks(variables: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The lab's networks: ``lab_networks``, or the single network of the shorthand variables."""
    if variables.get('networks'):
        return [dict(item) for item in variables['networks']]
    return [{key: variables.get(key) for key in NETWORK_KEYS if key != 'name'}]


def _parse_network(item: Dict[str, Any], label: str) -> Tuple[Optional[Dict[str, Any]], List[str]]:
    problems = _unknown_keys(item, NETWORK_KEYS, label)
    bridge = item.get('bridge') or item.get('name')
    name = item.get('name') or bridge
    if not bridge:
        return None, problems + ['%s: a network needs a name or a bridge' % label]
    label = 'network %s' % name
    error = firewall_interface_error('%s: bridge' % label, bridge)
    if error:
        problems.append(error)
    network = dict(name=name, bridge=bridge, subnet=None, gateway=None, uplink=item.get('uplink'),
                   masquerade=item.get('masquerade') is not False, icc=item.get('icc') is not False)
    try:
        network['subnet'] = parse_subnet(item.get('subnet') or '', bridge) if item.get('subnet') else None
    except InvalidInput as exc:
        problems += ['%s: %s' % (label, problem) for problem in exc.problems]
    if network['subnet'] is None:
        if not item.get('subnet'):
            problems.append('%s: subnet is required' % label)
        return network, problems
    subnet = ipaddress.ip_network(str(network['subnet']))
    if subnet.prefixlen > 30:
        problems.append('%s: subnet %s is too small for a gateway and a namespace (at most /30)' % (label, subnet))
        return network, problems
    gateway = item.get('gateway')
    if gateway is None:
        network['gateway'] = str(subnet.network_address + 1)
    else:
        error = _host_address_error(gateway, subnet)
        if error:
            problems.append('%s: gateway %s' % (label, error))
        else:
            network['gateway'] = str(ipaddress.ip_address(str(gateway)))
    if network['uplink'] is not None:
        error = firewall_interface_error('%s: uplink' % label, network['uplink'])
        if error:
            problems.append(error)
    return network, problems


def _host_address_error(text: object, subnet: Union[ipaddress.IPv4Network, ipaddress.IPv6Network]) -> Optional[str]:
    """Why ``text`` cannot be a host's address in ``subnet``, or None."""
    try:
        address = ipaddress.ip_address(str(text))
    except ValueError:
        return '%r is not an IPv4 address' % (text,)
    if address.version != 4:
        return '%s is IPv6; only IPv4 is supported' % text
    if address not in subnet:
        return '%s is outside the subnet %s' % (address, subnet)
    if address in (subnet.network_address, subnet.broadcast_address):
        return '%s is the %s address of %s' % (
            address, 'network' if address == subnet.network_address else 'broadcast', subnet)
    return None


def _check_networks(networks: Sequence[Dict[str, Any]]) -> List[str]:
    problems = ['network %s is listed more than once' % name for name in duplicates(n['name'] for n in networks)]
    problems += ['bridge %s is used by more than one network' % name
                 for name in duplicates(n['bridge'] for n in networks)]
    bridges = {n['bridge'] for n in networks}
    for network in networks:
        if network['uplink'] in bridges:
            problems.append('network %s: uplink %s is a bridge of the lab' % (network['name'], network['uplink']))
    subnets = [(n['name'], ipaddress.ip_network(str(n['subnet']))) for n in networks if n['subnet']]
    for index, (name, subnet) in enumerate(subnets):
        for other_name, other in subnets[index + 1:]:
            if subnet.overlaps(other):
                problems.append('networks %s (%s) and %s (%s) overlap' % (name, subnet, other_name, other))
    return problems


_PORT_LIST = 'publish must be a list of port specs, such as ["8000:8000"], not a single string'


def _is_port_list(value: object) -> bool:
    return value is None or isinstance(value, list)


def _memberships(entry: Dict[str, Any], networks_by_name: Dict[str, Dict[str, Any]],
                 first_network: Optional[str]) -> Tuple[List[Dict[str, Any]], List[str]]:
    """The networks a namespace joins, as member dicts; the first one holds its default route."""
    label = 'namespace %s' % entry['name']
    problems = []
    items = entry.get('networks')
    if items is None:
        items = [first_network] if first_network else []
    if not isinstance(items, list):
        return [], ['%s: networks must be a list of network names or dicts' % label]
    members = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {'network': item}
        if not isinstance(item, dict):
            problems.append('%s: networks[%d] must be a network name or a dict' % (label, index))
            continue
        problems += _unknown_keys(item, MEMBER_KEYS, '%s: networks[%d]' % (label, index))
        network = item.get('network')
        if network not in networks_by_name:
            problems.append('%s: network %r is not one of the lab networks (%s)' % (
                label, network, ', '.join(networks_by_name) or 'none'))
            continue
        if not _is_port_list(item.get('publish')):
            problems.append('%s: networks[%d]: %s' % (label, index, _PORT_LIST))
            item = dict(item, publish=[])
        members.append(dict(
            network=network,
            address=item.get('address'),
            publish=list(item.get('publish') or []),
            interface=item.get('interface') or 'eth%d' % index,
            host_interface=item.get('host_interface') or '%s-eth%d' % (entry['name'], index),
            primary=index == 0))
    problems += ['%s: joins network %s more than once' % (label, name)
                 for name in duplicates(m['network'] for m in members)]
    if not _is_port_list(entry.get('publish')):
        problems.append('%s: %s' % (label, _PORT_LIST))
        entry = dict(entry, publish=None)
    if members:
        for key in ('address', 'publish'):
            if entry.get(key):
                if members[0][key]:
                    problems.append('%s: %s is given both for the namespace and for its first network'
                                    % (label, key))
                else:
                    members[0][key] = entry[key] if key == 'address' else list(entry[key])
    elif entry.get('address') or entry.get('publish'):
        problems.append('%s: address and publish need a network' % label)
    return members, problems


def _parse_namespace(entry: object, index: int, networks_by_name: Dict[str, Dict[str, Any]],
                     first_network: Optional[str]) -> Tuple[Optional[Dict[str, Any]], List[str]]:
    if not isinstance(entry, dict):
        return None, ['lab_namespaces[%d] must be a dict with at least a name' % index]
    name = entry.get('name')
    error = netns_name_error(name) if name else 'lab_namespaces[%d] needs a name' % index
    if error:
        return None, [error]
    problems = _unknown_keys(entry, NAMESPACE_KEYS, 'namespace %s' % name)
    state = entry.get('state') or 'present'
    if state not in ('present', 'absent'):
        problems.append('namespace %s: state %r is not present or absent' % (name, state))
    members, more = _memberships(entry, networks_by_name, first_network)
    problems += more
    command = entry.get('command')
    if command is not None and (not isinstance(command, str) or not command.strip()):
        problems.append('namespace %s: command must be a non-empty string' % name)
    elif command is not None and service_name_error(name):
        # The service is named after its namespace.
        problems.append('namespace %s: %s, so it cannot run a command' % (name, service_name_error(name)))
    chdir = entry.get('chdir')
    if chdir is not None and (not isinstance(chdir, str) or not chdir.startswith('/')):
        problems.append('namespace %s: chdir %r must be an absolute path' % (name, chdir))
    names, more = name_settings(entry, 'namespace %s' % name)
    problems += more
    for member in members:
        for key in ('interface', 'host_interface'):
            error = interface_name_error(member[key])
            if error:
                hint = '' if entry.get('networks') else (
                    '; use a shorter namespace name, or give its network as a dict with %s' % key)
                problems.append('namespace %s: %s %s%s' % (name, key.replace('_', ' '), error, hint))
    return dict(name=name, state=state, command=command, chdir=chdir, members=members, **names), problems


def _check_members(namespaces: Sequence[Dict[str, Any]], networks_by_name: Dict[str, Dict[str, Any]]) -> List[str]:
    """Problems across namespaces: link names, addresses and host ports given twice."""
    problems = []
    present = [ns for ns in namespaces if ns['state'] == 'present']
    host_links = [m['host_interface'] for ns in namespaces for m in ns['members']]
    problems += ['link name %s is used by more than one namespace' % name for name in duplicates(host_links)]
    for name in set(host_links) & {n['bridge'] for n in networks_by_name.values()}:
        problems.append('link name %s is also the name of a lab bridge' % name)
    for ns in namespaces:
        problems += ['namespace %s: interface %s is used twice' % (ns['name'], name)
                     for name in duplicates(m['interface'] for m in ns['members'])]
    claimed: Dict[Tuple[str, str], str] = {}
    mappings = []
    for ns in present:
        for member in ns['members']:
            network = networks_by_name[member['network']]
            label = 'namespace %s' % ns['name']
            if member['address'] is not None and network['subnet']:
                subnet = ipaddress.ip_network(str(network['subnet']))
                error = _host_address_error(member['address'], subnet)
                if error:
                    problems.append('%s: address %s' % (label, error))
                    member['address'] = None
                else:
                    address = str(ipaddress.ip_address(str(member['address'])))
                    member['address'] = address
                    if address == network['gateway']:
                        problems.append('%s: address %s is the gateway of network %s' % (
                            label, address, network['name']))
                    elif (network['name'], address) in claimed:
                        problems.append('address %s is given to both namespace %s and namespace %s' % (
                            address, claimed[(network['name'], address)], ns['name']))
                    claimed[(network['name'], address)] = ns['name']
            own = []
            for spec in member['publish']:
                try:
                    own += parse_port_spec(spec, ns['name'])
                except InvalidInput as exc:
                    problems += ['%s: %s' % (label, problem) for problem in exc.problems]
            own = list(dict.fromkeys(own))
            mappings += own
            # Kept parsed, so that neither the publishing step nor the summary parses them again.
            member['ports'] = [dict(proto=m.proto, host_ip=m.host_ip, host_port=m.host_port,
                                    container_port=m.container_port) for m in own]
    problems += conflicts(mappings, mappings)
    return problems


#: nslab.net.lab_network's arguments (AnsibleModule keyword arguments): the role's variables
#: without their lab_ prefix, and what the steps need beyond them.
LAB_ARGS = dict(
    argument_spec=dict(
        name=dict(type='str', default='lab'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        networks=dict(type='list', elements='dict', default=[]),
        bridge=dict(type='str', default='br0'),
        subnet=dict(type='str', default='10.0.0.0/24'),
        gateway=dict(type='str'),
        uplink=dict(type='str'),
        masquerade=dict(type='bool', default=True),
        icc=dict(type='bool', default=True),
        namespaces=dict(type='list', elements='dict', default=[]),
        backend=dict(type='str', choices=['auto', 'legacy', 'nft'], default='auto'),
        service_manager=dict(type='str', choices=['auto', 'systemd', 'process'], default='auto'),
        kill_processes=dict(type='bool', default=False),
        diagram_path=dict(type='path'),
        overlay=dict(type='dict', options=OVERLAY_OPTIONS),
        restore_at_boot=dict(type='bool', default=True),
        names=dict(type='bool', default=True),
        dns=dict(type='list', elements='str', default=[]),
        dns_search=dict(type='list', elements='str', default=[]),
        extra_hosts=dict(type='list', elements='str', default=[]),
        lock_timeout=dict(type='int', default=60),
        reuse_result=dict(type='bool', default=False),
    ),
)
SPEC_VARIABLES = ('name', 'state', 'networks', 'bridge', 'subnet', 'gateway', 'uplink', 'masquerade', 'icc', 'namespaces',
                  'overlay', 'names') + NAME_KEYS


def lab_variables(params: Dict[str, Any]) -> Dict[str, Any]:
    """What :func:`lab_spec` takes, from lab_network's arguments."""
    return {key: params.get(key) for key in SPEC_VARIABLES}


def lab_spec(variables: Dict[str, Any]) -> Dict[str, Any]:
    """The role's variables, checked as a whole and normalised; raises InvalidInput.

    ``variables`` has the role's variables without their ``lab_`` prefix: ``networks`` (the
    multi-network form) or ``bridge``, ``subnet``, ``gateway``, ``uplink``, ``masquerade``,
    ``icc`` (the shorthand for one network), ``namespaces`` and ``state``.
    """
    networks, problems = _parsed_networks(variables)
    problems += _check_networks(networks)
    networks_by_name = {n['name']: n for n in networks}
    first = networks[0]['name'] if networks else None
    namespaces = []
    for index, entry in enumerate(variables.get('namespaces') or []):
        namespace, more = _parse_namespace(entry, index, networks_by_name, first)
        problems += more
        if namespace:
            namespaces.append(namespace)
    problems += ['namespace %s is listed more than once' % name for name in duplicates(n['name'] for n in namespaces)]
    problems += _check_members(namespaces, networks_by_name)
    state = variables.get('state') or 'present'
    if state not in ('present', 'absent'):
        problems.append('lab_state %r is not present or absent' % (state,))
    name = variables.get('name') or 'lab'
    error = lab_name_error(name)
    if error:
        problems.append('lab_name: %s' % error)
    overlay = None
    try:
        overlay = overlay_spec(variables.get('overlay'))
    except InvalidInput as exc:
        problems += exc.problems
    if overlay:
        own = [(n['name'], n['subnet']) for n in networks if n['subnet']]
        problems += overlap_problems([('this host', own)] + [
            (peer['name'], [(m['network'], m['subnet']) for m in peer['networks']]) for peer in overlay['peers']])
    names, more = name_settings(variables, 'lab')
    problems += more
    names['enabled'] = variables.get('names') is not False
    if problems:
        raise InvalidInput(problems)
    return dict(name=name, state=state, networks=networks, namespaces=namespaces, overlay=overlay, names=names)


def _parsed_networks(variables: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    """The lab's networks, each parsed on its own, and the problems found."""
    problems, networks = [], []
    for index, item in enumerate(_networks(variables)):
        label = 'lab_networks[%d]' % index if variables.get('networks') else 'lab_bridge'
        network, more = _parse_network(item, label)
        problems += more
        if network:
            networks.append(network)
    return networks, problems


def network_subnets(variables: Dict[str, Any]) -> List[Tuple[str, str]]:
    """``[(network, subnet)]`` of a lab's variables (another host's, on the controller);
    raises InvalidInput where they are not valid."""
    networks, problems = _parsed_networks(variables)
    if problems:
        raise InvalidInput(problems)
    return [(network['name'], network['subnet']) for network in networks if network['subnet']]


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


def _allocate(spec: Dict[str, Any], info: Dict[str, Any], releasing: Callable[[Tuple[Optional[str], str]], bool]) -> None:
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


def _releasing(spec: Dict[str, Any], owned: Optional[Owned]) -> Callable[[Tuple[Optional[str], str]], bool]:
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


def lab_plan(spec: Dict[str, Any], info: Dict[str, Any], owned: Optional[Owned] = None) -> Dict[str, Any]:
    """The module arguments that build (or tear down) ``spec`` on a host that holds ``info``.

    ``info`` is what nslab.net.netns_info returned for the host; ``owned`` what the lab owns
    there (a :class:`ownership.Owned`; None: nothing). What the lab owns and ``spec`` no
    longer declares is removed, and a teardown removes everything the lab owns, whatever
    ``spec`` says. Raises InvalidInput when an address is taken or a network has run out of
    addresses.
    """
    spec = _copy(spec)
    networks = {n['name']: n for n in spec['networks']}
    default_route = ((info.get('host') or {}).get('default_routes') or {}).get('4') or {}
    for network in spec['networks']:
        if network['uplink'] is None:
            network['uplink'] = default_route.get('interface')
    teardown = spec['state'] == 'absent'
    if not teardown:
        _allocate(spec, info, _releasing(spec, owned))
    plan = dict(state=spec['state'], netns=[], bridges=[], pairs=[], masquerade=[], publish=[], services=[],
                namespaces=[], overlay=None)
    mtu = LAB_MTU
    if not teardown and spec.get('overlay'):
        plan['overlay'] = _overlay(spec, info, owned)
        mtu = plan['overlay']['mtu']
    if not teardown:
        for network in spec['networks']:
            prefix = network['subnet'].split('/')[1]
            plan['bridges'].append(dict(name=network['bridge'], addresses=['%s/%s' % (network['gateway'], prefix)],
                                        mtu=mtu, up=True))
            plan['masquerade'].append(dict(bridge=network['bridge'], subnet=network['subnet'],
                                           out_interface=network['uplink'], icc=network['icc'],
                                           masquerade=network['masquerade']))
    for ns in spec['namespaces']:
        if teardown or ns['state'] == 'absent':
            continue
        plan['netns'].append(ns['name'])
        for member in ns['members']:
            network = networks[member['network']]
            prefix = network['subnet'].split('/')[1]
            peer = dict(name=member['interface'], netns=ns['name'], addresses=['%s/%s' % (member['address'], prefix)])
            if member['primary']:
                peer['gateway'] = network['gateway']
            plan['pairs'].append(dict(name=member['host_interface'], master=network['bridge'], hairpin=True,
                                      mtu=mtu, peer=peer))
            # Every member, even without ports: the bridge's publishing is exclusive, so a
            # port dropped from the list, or an address that moved, is unpublished.
            plan['publish'].append(dict(bridge=network['bridge'], destination=member['address'],
                                        ports=list(member['publish'])))
        if ns['command']:
            service = dict(name=ns['name'], netns=ns['name'], command=ns['command'])
            if ns['chdir']:
                service['chdir'] = ns['chdir']
            plan['services'].append(service)
        plan['namespaces'].append(dict(
            name=ns['name'], command=ns['command'],
            networks=[dict(network=m['network'], bridge=networks[m['network']]['bridge'],
                           interface=m['interface'], host_interface=m['host_interface'],
                           address=m['address'], publish=list(m['publish']), ports=list(m.get('ports') or []))
                      for m in ns['members']],
            **{key: ns.get(key) or [] for key in NAME_KEYS}))
    plan['networks'] = [{key: n[key] for key in NETWORK_KEYS} for n in spec['networks']]
    host_links = {link['name']: link.get('kind') for link in (info.get('host') or {}).get('links') or []}
    plan['remove'] = removals(plan, owned or Owned({}, set(), [], []), host_links)
    names = spec.get('names') or {}
    plan['names'] = None
    if not teardown and names.get('enabled'):
        plan['names'] = names_layout(spec['name'], plan['namespaces'], names, info.get('name_files') or {})
    # The lab's name files go with the lab, or when it stops writing them.
    plan['remove']['names'] = [] if plan['names'] else [spec['name']]
    return plan


def _overlay(spec: Dict[str, Any], info: Dict[str, Any], owned: Optional[Owned]) -> Dict[str, Any]:
    """The plan's overlay: where it meets the underlay, and its peers. Raises InvalidInput."""
    networks = spec['networks']
    uplinks = [network['name'] for network in networks if not network['uplink']]
    if uplinks:
        # MASQUERADE would then apply to every interface but the bridge, the overlay's too.
        raise InvalidInput(['overlay: network %s has no uplink (the host has no IPv4 default route): set lab_uplink, '
                            'so that only traffic to the outside world is masqueraded' % ', '.join(uplinks)])
    local = underlay(spec['overlay'], info.get('host') or {}, networks[0]['uplink'] if networks else None)
    if owned is None:
        return overlay_layout(spec['overlay'], local, networks, {})
    return overlay_layout(spec['overlay'], local, networks, owned.overlay_peers, owned.overlay_namespaces)


def _copy(spec: Any) -> Any:
    """A deep copy of the plain data ``spec`` is made of; planning fills in addresses."""
    if isinstance(spec, dict):
        return {key: _copy(value) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_copy(value) for value in spec]
    return spec
