# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""port_publish's planning: Docker's ``-p`` for addresses on a bridge, as rules.

A published port answers from the host itself (OUTPUT DNAT; 127.0.0.1 needs route_localnet
on the bridge and a MASQUERADE of loopback sources), from other machines (PREROUTING DNAT)
and from inside the lab via the host's address (hairpin: MASQUERADE of DNAT'ed traffic
from the bridge's own subnet, so the reply comes back through the host). FORWARD accepts
only connections that came through a published port (conntrack state DNAT) to its
destination port; everything else that would enter the bridge from outside is dropped.
A port published on a loopback address is DNAT'ed in OUTPUT only, so a neighbour that
sends packets to 127.0.0.1 cannot reach it; and a non-loopback source may not reach the
host's 127.0.0.0/8 through the bridge (route_localnet would otherwise allow it).

Owners: the rules of one destination are commented ``nslab:publish:BRIDGE:ADDRESS``; the
rules the bridge needs while any of its destinations publishes are ``nslab:publish:BRIDGE``.
A bridge's destinations are found from those comments on any rule, so a destination whose
DNAT rule somebody deleted by hand is still found, and removed, by its other rules.

When a mapping goes (removed, or moved to another destination or container port), the
conntrack flows DNAT'ed through it go too, after the rules changed (:mod:`conntrack`).
A port itself, its parser and when two clash are in :mod:`ports`.
"""


import ipaddress
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import BACKEND_OPTION, FirewallTask
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import TABLES, build, owner_comment, owner_parts
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import IP_FORWARD, route_localnet
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import REPLIES
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import (
    LOOPBACK_NETWORK, PublishedPort, conflicts, parse_ports)
from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_ipv4
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import firewall_interface_error
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule, Ruleset
    from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import Sysctl

PUBLISH_KEYS = ('bridge', 'destination', 'ports')
DNAT_CHAINS = {False: 'NSLAB-DNAT', True: 'NSLAB-DNAT-LOCAL'}


def parse_destination(text: object, bridge: str) -> str:
    try:
        address = parse_ipv4(text)
    except ValueError as exc:
        raise InvalidInput(['bridge %s: destination %s' % (bridge, exc)])
    return str(address)


def parse_publish(items: Iterable[Dict[str, Any]], state: str, exclusive: bool = False) -> Dict[str, Dict[str, List[PublishedPort]]]:
    """``{bridge: {destination: [PublishedPort]}}`` from the task's items; InvalidInput lists every problem.

    With state=absent the ports are ignored: a destination's ports are removed, or all the
    bridge's when no destination is named (then its dict is empty). With ``exclusive`` an
    item may name a bridge alone: it publishes nothing there, so everything there goes.
    """
    wanted: Dict[str, Dict[str, List[PublishedPort]]]
    whole: Set[str]
    problems, wanted, whole = [], {}, set()
    for item in items:
        bridge, destination = item.get('bridge'), item.get('destination')
        error = firewall_interface_error('bridge', bridge) if bridge is not None else 'bridge is required'
        if error:
            problems.append(error)
            continue
        per_bridge = wanted.setdefault(bridge, {})  # type: ignore[arg-type]  # bridge is not None: checked above
        if destination is None:
            if state == 'absent':
                whole.add(bridge)  # type: ignore[arg-type]  # bridge is not None: checked above
            elif not exclusive:
                problems.append('bridge %s: destination is required with state=present unless exclusive is true'
                                % bridge)
            continue
        try:
            destination = parse_destination(destination, bridge)  # type: ignore[arg-type]  # bridge is not None: checked above
        except InvalidInput as exc:
            problems += exc.problems
            continue
        mappings = per_bridge.setdefault(destination, [])
        for spec in item.get('ports') or [] if state == 'present' else []:
            try:
                mappings += [m for m in parse_ports(spec, destination) if m not in mappings]
            except InvalidInput as exc:
                problems += ['bridge %s, destination %s: %s' % (bridge, destination, p) for p in exc.problems]
    for bridge in whole:
        wanted[bridge] = {}  # absent without a destination: every destination of the bridge
    mine = [m for per_bridge in wanted.values() for mappings in per_bridge.values() for m in mappings]
    problems += conflicts(mine, mine)
    if problems:
        raise InvalidInput(problems)
    return wanted


def destination_owner(bridge: str, destination: str) -> str:
    return owner_comment('publish', '%s:%s' % (bridge, destination))


def bridge_owner(bridge: str) -> str:
    return owner_comment('publish', bridge)


def _split_owner(comment: Optional[str]) -> Optional[Tuple[str, Optional[str]]]:
    """``(bridge, destination or None)`` of a publish comment, or None for other comments."""
    parts = owner_parts(comment, 'publish')
    if parts is None or len(parts) > 2:
        return None
    return parts[0], parts[1] if len(parts) == 2 else None


def published(current: 'Ruleset') -> Dict[Tuple[str, str], List[PublishedPort]]:
    """The mappings in the current rules, as ``{(bridge, destination): [PublishedPort]}``."""
    found: Dict[Tuple[str, str], List[PublishedPort]] = {}
    for chain in DNAT_CHAINS.values():
        for rule in current.chain_rules('nat', chain):
            owner = _split_owner(rule.comment)
            if not owner or owner[1] is None:
                continue
            args = list(rule.args)
            try:
                host_ip = args[args.index('-d') + 1].split('/')[0] if '-d' in args else None
                destination, unused, port = args[args.index('--to-destination') + 1].rpartition(':')
                mapping = PublishedPort(args[args.index('-p') + 1], host_ip, int(args[args.index('--dport') + 1]),
                                        destination, int(port))
            except (ValueError, IndexError):
                continue  # edited by hand: not a mapping this module can reason about
            found.setdefault(owner, []).append(mapping)  # type: ignore[arg-type]  # owner[1] is not None: checked above
    return found


def owned_destinations(current: 'Ruleset') -> Dict[str, Set[str]]:
    """``{bridge: set of destinations}`` named by the owner comment of any rule, in any chain.

    Not only the DNAT rules: one deleted by hand must not hide its destination's other
    rules (and with them the skeleton) from a removal.
    """
    found: Dict[str, Set[str]] = {}
    for table in TABLES:
        for rules in current.rules[table].values():
            for rule in rules:
                owner = _split_owner(rule.comment)
                if owner and owner[1] is not None:
                    found.setdefault(owner[0], set()).add(owner[1])
    return found


def hairpin_subnets(current: 'Ruleset', bridge: str) -> List[str]:
    """The subnets the bridge's hairpin rules name now (used when the bridge is gone)."""
    subnets = []
    for rule in current.chain_rules('nat', 'NSLAB-POSTROUTING'):
        if rule.comment == bridge_owner(bridge) and '-s' in rule.args:
            subnet = rule.args[rule.args.index('-s') + 1]
            if subnet != str(LOOPBACK_NETWORK):
                subnets.append(subnet)
    return subnets


def destination_rules(bridge: str, destination: str, mappings: Iterable[PublishedPort]) -> List['Rule']:
    owner = destination_owner(bridge, destination)
    rules = []
    for m in mappings:
        rules.append(build('nat', DNAT_CHAINS[m.loopback_only], 'DNAT',
                           dst='%s/32' % m.host_ip if m.host_ip else None, proto=m.proto,
                           matches=[(m.proto, ('--dport', str(m.host_port)))],
                           target_args=('--to-destination', '%s:%d' % (destination, m.container_port)),
                           comment=owner))
        rules.append(build('filter', 'NSLAB-INBOUND', 'ACCEPT', dst='%s/32' % destination, out_if=bridge,
                           proto=m.proto, matches=[(m.proto, ('--dport', str(m.container_port))),
                                                   ('conntrack', ('--ctstate', 'DNAT'))],
                           comment=owner))
    return rules


def bridge_rules(bridge: str, subnets: Iterable[str], loopback: bool) -> List['Rule']:
    """What the bridge needs while any of its destinations publishes a port."""
    owner = bridge_owner(bridge)
    rules = [build('nat', 'NSLAB-POSTROUTING', 'MASQUERADE', src=subnet, out_if=bridge,
                   matches=[('conntrack', ('--ctstate', 'DNAT'))], comment=owner) for subnet in subnets]
    rules += [
        build('filter', 'NSLAB-INBOUND', 'ACCEPT', out_if=bridge, matches=[REPLIES], comment=owner),
        build('filter', 'NSLAB-ISOLATE', 'DROP', in_if='!' + bridge, out_if=bridge, comment=owner),
        build('filter', 'NSLAB-OUTBOUND', 'ACCEPT', in_if=bridge, matches=[REPLIES], comment=owner),
    ]
    if loopback:
        rules += [
            build('nat', 'NSLAB-POSTROUTING', 'MASQUERADE', src=str(LOOPBACK_NETWORK), out_if=bridge, comment=owner),
            build('filter', 'NSLAB-INPUT', 'DROP', src='!' + str(LOOPBACK_NETWORK), dst=str(LOOPBACK_NETWORK), in_if=bridge,
                  matches=[('conntrack', ('!', '--ctstate', 'RELATED,ESTABLISHED,DNAT'))], comment=owner),
        ]
    return rules


def plan_publish(wanted: Dict[str, Dict[str, List[PublishedPort]]], state: str, bridges: Dict[str, Optional[List[str]]], current: 'Ruleset', check_mode: bool,
                 exclusive: bool = False) -> FirewallTask:
    """The :class:`FirewallTask` of a port_publish run, with the mappings that go as its ``flows``.

    ``bridges`` maps each bridge of the task to its IPv4 subnets, or None where the
    bridge does not exist. Kernel settings are held by the bridge's owner
    (``nslab:publish:BRIDGE``): ip_forward while the bridge publishes any port,
    route_localnet while it publishes one that answers on 127.0.0.1. With ``exclusive``
    (state=present) the destinations of the task's bridges that the task does not list
    are removed. Only destinations that publish a port are checked against the bridge's
    subnets: one that goes may be what is left of a subnet that just changed.
    """
    existing = published(current)
    found = owned_destinations(current)
    owners, rules, sysctls, problems, warnings, flows = [], [], [], [], [], []
    holders: Dict['Sysctl', List[str]] = {}
    mine = []
    for bridge, destinations in sorted(wanted.items()):
        if state == 'absent' and not destinations:
            destinations = {dest: [] for dest in sorted(found.get(bridge, ()))}
        leaving = sorted(found.get(bridge, set()) - set(destinations)) if state == 'present' and exclusive else []
        owners.append(bridge_owner(bridge))
        owners += [destination_owner(bridge, dest) for dest in list(destinations) + leaving]
        mine += [m for mappings in destinations.values() for m in mappings]
        for dest in list(destinations) + leaving:
            staying = set(destinations.get(dest, ()))
            flows += [m for m in existing.get((bridge, dest), ()) if m not in staying]
        managed_here = set(destinations).union(leaving)
        remaining = [m for (b, dest), mappings in existing.items()
                     if b == bridge and dest not in managed_here for m in mappings]
        remaining += [m for mappings in destinations.values() for m in mappings]
        subnets = bridges.get(bridge)
        # Only what publishes a port needs the bridge and a destination in its subnets.
        publishing = any(destinations.values())
        if subnets is None:
            if publishing and not check_mode:
                problems.append('bridge %s does not exist: create it (nslab.net.bridge) first' % bridge)
            subnets = hairpin_subnets(current, bridge)
            if publishing and check_mode and not subnets:
                warnings.append('bridge %s does not exist yet; the check run leaves out its hairpin rule,'
                                ' which needs the bridge\'s subnet' % bridge)
        else:
            for dest, mappings in destinations.items():
                address = ipaddress.ip_address(str(dest))
                if mappings and not any(address in ipaddress.ip_network(str(s)) for s in subnets):
                    problems.append('bridge %s: destination %s is in none of its subnets (%s)'
                                    % (bridge, dest, ', '.join(subnets) or 'it has no IPv4 address'))
        for dest, mappings in sorted(destinations.items()):
            rules += destination_rules(bridge, dest, mappings)
        loopback = any(m.reaches_loopback for m in remaining)
        if remaining:
            rules += bridge_rules(bridge, subnets, loopback)
            sysctls.append((IP_FORWARD, 1))
            holders.setdefault(IP_FORWARD, []).append(bridge_owner(bridge))
        if bridges.get(bridge) is not None:
            # Without loopback ports the bridge lets route_localnet go (no holders): it goes
            # back to what it was before a loopback port turned it on.
            sysctls.append((route_localnet(bridge), 1 if loopback else 0))
            holders[route_localnet(bridge)] = [bridge_owner(bridge)] if loopback else []
    managed = set(owners)
    others = [m for (b, dest), mappings in existing.items()
              if destination_owner(b, dest) not in managed for m in mappings]
    problems += conflicts(mine, others, owner_of=lambda m: 'destination %s' % m.destination)
    return FirewallTask(owners=owners, rules=rules, sysctls=list(dict.fromkeys(sysctls)),
                        problems=problems, warnings=warnings, holders=holders, flows=list(dict.fromkeys(flows)))


_PUBLISH_OPTIONS = dict(
    bridge=dict(type='str'),
    destination=dict(type='str'),
    ports=dict(type='list', elements='str', default=[]),
)
#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
PUBLISH_ARGS = dict(
    argument_spec=dict(
        _PUBLISH_OPTIONS,
        publish=dict(type='list', elements='dict', options=dict(_PUBLISH_OPTIONS, bridge=dict(type='str', required=True))),
        exclusive=dict(type='bool', default=False),
        backend=BACKEND_OPTION,
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ),
    required_one_of=[('bridge', 'publish')],
    mutually_exclusive=[('publish', key) for key in ('bridge', 'destination')],
)
