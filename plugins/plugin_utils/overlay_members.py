# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hosts of a VXLAN overlay, found on the controller from the inventory.

A host is a member of this host's overlay when its variables give ``lab_overlay`` with the same
VNI, the same ``lab_name`` and a ``lab_state`` other than absent. Membership is read from the
whole inventory, not from the hosts of the play: a run with ``--limit``, or one in which a
host is unreachable, must not cut that host out of everybody's overlay. Only removing the host
from the inventory (or its ``lab_overlay``) does.

Each member's subnets come from its variables (they live in the inventory too), its underlay
address from ``lab_overlay_address`` or from what the role's lookup found on it in this run
(``ip`` through ``raw``, registered as ``lab_underlay_result``; see :func:`looked_up_address`);
a member whose address is known neither way is passed without one, and the host uses the
address it recorded in an earlier run, if any. Each member's namespaces (with their addresses, which its
own run may have allocated) come from its registered result of this lab in this play, when it
has one that built the lab; otherwise they are omitted, and the host names those it recorded
in an earlier run.
"""


import ipaddress

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import DEFAULT_BRIDGE, DEFAULT_NAME, DEFAULT_SUBNET
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import network_subnets
from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import overlap_problems

#: The role's defaults that decide a host's networks, for hosts whose variables do not set them
#: (another host's hostvars hold its inventory variables, not the role's defaults).
NETWORK_DEFAULTS = dict(bridge=DEFAULT_BRIDGE, subnet=DEFAULT_SUBNET)
NETWORK_VARIABLES = ('networks', 'bridge', 'subnet', 'gateway', 'uplink')
#: The variable the role registers the lab's result in.
REGISTER = 'lab_result'
#: The variable the role registers its lookup of the host's underlay address in.
UNDERLAY_REGISTER = 'lab_underlay_result'
#: The destination whose route gives the default underlay address (setup asks for the same).
ROUTE_PROBE = '8.8.8.8'


def _vni(overlay):
    if isinstance(overlay, dict):
        try:
            return int(overlay.get('vni'))
        except (TypeError, ValueError):
            return None
    return None


def underlay_address(variables):
    """A host's underlay address from its variables: ``lab_overlay_address``, else what the role's
    lookup found in this run (the IPv4 address of ``lab_uplink``, or the default route's source
    address), else None. A host the lookup did not run on (not in the play) falls back to its
    facts, as ``setup`` would have left them (``gather_facts``, a fact cache)."""
    if variables.get('lab_overlay_address'):
        return str(variables['lab_overlay_address'])
    uplink = variables.get('lab_uplink')
    lookup = variables.get(UNDERLAY_REGISTER)
    if isinstance(lookup, dict) and 'stdout' in lookup:
        return looked_up_address(lookup['stdout'], uplink)
    facts = variables.get('ansible_facts') or {}
    if uplink:
        interface = facts.get(str(uplink).replace('-', '_')) or {}
        return (interface.get('ipv4') or {}).get('address')
    return (facts.get('default_ipv4') or {}).get('address')


def looked_up_address(output, uplink=None):
    """The address in the output of the role's lookup, or None: with ``uplink``, the first
    primary IPv4 address labelled with its name (``ip -4 addr show primary dev UPLINK``), else the
    source address of the route to ``ROUTE_PROBE`` (``ip -4 route get``); what setup's
    ``ansible_UPLINK.ipv4.address`` and ``ansible_default_ipv4.address`` are.

    The output came through a terminal (``raw``), with ``\\r\\n`` line ends and the errors
    mixed in; a line is taken only in the form ``ip`` prints an answer in.
    """
    for line in str(output or '').splitlines():
        words = line.split()
        if uplink:
            # "inet 192.0.2.4/24 brd 192.0.2.255 scope global ens5": the label is the last word; an
            # address labelled otherwise ("ens5:1") is not the interface's own, for setup either.
            if len(words) > 1 and words[0] == 'inet' and words[-1] == str(uplink):
                return _ipv4(words[1].split('/')[0])
        elif words and words[0] == ROUTE_PROBE:
            # "8.8.8.8 via 192.0.2.1 dev ens5 src 192.0.2.3 uid 0"
            for index, word in enumerate(words[:-1]):
                if word == 'src':
                    return _ipv4(words[index + 1])
            return None
    return None


def _ipv4(text):
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def host_subnets(variables):
    """``[(network, subnet)]`` of a host's ``lab_*`` variables, with the role's defaults."""
    lab = dict(NETWORK_DEFAULTS)
    for key in NETWORK_VARIABLES:
        value = variables.get('lab_' + key)
        if value is not None and value != '':
            lab[key] = value
    return network_subnets(lab)


def lab_namespaces(result, lab_name, subnets=None):
    """``[{name, network, address}]`` of the namespaces a registered result of lab_network
    planned, when it is a result of lab ``lab_name`` that built it (its plan's state present);
    else None (not known). With ``subnets`` (the host's ``[(network, subnet)]`` as its
    variables say now), a result with a namespace outside them is stale (an earlier play's,
    with other networks): None too."""
    if not isinstance(result, dict) or result.get('failed') or result.get('skipped'):
        return None
    summary, plan = result.get('summary'), result.get('plan')
    if not isinstance(summary, dict) or not isinstance(plan, dict):
        return None
    if summary.get('name') != lab_name or plan.get('state') != 'present':
        return None
    namespaces = [dict(name=str(ns['name']), network=str(member['network']), address=str(member['address']))
                  for ns in plan.get('namespaces') or [] for member in ns.get('networks') or []]
    if subnets is not None:
        networks = {network: ipaddress.ip_network(subnet) for network, subnet in subnets}
        try:
            if any(ns['network'] not in networks or ipaddress.ip_address(ns['address']) not in networks[ns['network']]
                   for ns in namespaces):
                return None
        except ValueError:
            return None
    return namespaces


def overlay_peers(me, own_subnets, overlay, lab_name, hosts, variables_of, register=REGISTER, result_of=None):
    """The ``peers`` of this host's overlay argument; raises InvalidInput.

    ``me`` is this host's inventory name, ``own_subnets`` its ``[(network, subnet)]``,
    ``overlay`` its overlay argument, ``hosts`` every host of the inventory and
    ``variables_of(host)`` that host's variables, among which ``register`` is its result of
    the lab in this play, if it has one; ``result_of(host)``, where given, reads that result
    instead (the action plugin reads it untemplated: a registered result holds no template,
    and templating a whole plan per peer is what a run would spend most of its time on here).
    Subnets that overlap anywhere in the overlay fail every host of it, before any of them
    changes, naming the two hosts.
    """
    if result_of is None:
        def result_of(host):
            return variables_of(host).get(register)
    vni = _vni(overlay)
    peers, problems, members = [], [], [(me, own_subnets)]
    for host in hosts:
        if host == me:
            continue
        variables = variables_of(host)
        if _vni(variables.get('lab_overlay')) != vni or (variables.get('lab_name') or DEFAULT_NAME) != lab_name:
            continue
        if variables.get('lab_state') == 'absent':
            continue
        try:
            subnets = host_subnets(variables)
        except InvalidInput as exc:
            problems += ['overlay member %s: %s' % (host, problem) for problem in exc.problems]
            continue
        members.append((host, subnets))
        peers.append(dict(name=host, address=underlay_address(variables),
                          networks=[dict(network=network, subnet=subnet) for network, subnet in subnets],
                          namespaces=lab_namespaces(result_of(host), lab_name, subnets)))
    problems += overlap_problems(members)
    if problems:
        raise InvalidInput(problems)
    return peers
