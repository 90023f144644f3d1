# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's variables, checked as a whole and normalised (:func:`lab_spec`).

What an argument spec cannot check: subnets that overlap, an address outside its subnet or
given twice, a host port published twice, a derived link name longer than Linux allows. Run
before anything changes, by nslab.net.lab_network on the target and as a filter of the same
name on the controller.
"""

import ipaddress
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import lab_name_error
from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_ipv4, parse_subnet
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import firewall_interface_error, interface_name_error, netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort, conflicts, parse_ports
from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import overlap_problems, overlay_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import (
    DEFAULT_NAME, MEMBER_KEYS, NAME_KEYS, NAMESPACE_KEYS, NETWORK_KEYS, STATES)
from ansible_collections.nslab.net.plugins.module_utils._names.spec import name_settings
from ansible_collections.nslab.net.plugins.module_utils._services.spec import service_name_error
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates


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
        address, error = _host_address(gateway, subnet)
        if error:
            problems.append('%s: gateway %s' % (label, error))
        else:
            network['gateway'] = address
    if network['uplink'] is not None:
        error = firewall_interface_error('%s: uplink' % label, network['uplink'])
        if error:
            problems.append(error)
    return network, problems


def _host_address(text: object, subnet: Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
                  ) -> Tuple[Optional[str], Optional[str]]:
    """``(address, None)``: ``text`` in its canonical form, a host's address in ``subnet``;
    or ``(None, why not)``."""
    try:
        address = parse_ipv4(text)
    except ValueError as exc:
        return None, str(exc)
    if address not in subnet:
        return None, '%s is outside the subnet %s' % (address, subnet)
    if address in (subnet.network_address, subnet.broadcast_address):
        return None, '%s is the %s address of %s' % (
            address, 'network' if address == subnet.network_address else 'broadcast', subnet)
    return str(address), None


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
    if state not in STATES:
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
    ports: List[PublishedPort] = []
    for ns in present:
        for member in ns['members']:
            network = networks_by_name[member['network']]
            label = 'namespace %s' % ns['name']
            if member['address'] is not None and network['subnet']:
                subnet = ipaddress.ip_network(str(network['subnet']))
                address, error = _host_address(member['address'], subnet)
                member['address'] = address
                if error:
                    problems.append('%s: address %s' % (label, error))
                elif address == network['gateway']:
                    problems.append('%s: address %s is the gateway of network %s' % (label, address, network['name']))
                elif (network['name'], address) in claimed:
                    problems.append('address %s is given to both namespace %s and namespace %s' % (
                        address, claimed[(network['name'], address)], ns['name']))
                if address:
                    claimed[(network['name'], address)] = ns['name']
            own, more = _parsed_ports(member.pop('publish'), ns['name'], label)
            problems += more
            ports += own
            # Parsed here, once on this machine: every reader after takes these (plain data,
            # so the spec and the plan stay what JSON and Jinja carry).
            member['ports'] = [port.as_dict() for port in own]
    for ns in namespaces:
        if ns['state'] != 'present':
            for member in ns['members']:
                del member['publish']  # a namespace that goes publishes nothing: not read
                member['ports'] = []
    problems += conflicts(ports, ports)
    return problems


def _parsed_ports(texts: Sequence[str], destination: str, label: str) -> Tuple[List[PublishedPort], List[str]]:
    """The distinct ports of a member's ``publish`` texts, and the problems found."""
    own: List[PublishedPort] = []
    problems = []
    for text in texts:
        try:
            own += parse_ports(text, destination)
        except InvalidInput as exc:
            problems += ['%s: %s' % (label, problem) for problem in exc.problems]
    return list(dict.fromkeys(own)), problems


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
    if state not in STATES:
        problems.append('lab_state %r is not present or absent' % (state,))
    name = variables.get('name') or DEFAULT_NAME
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
