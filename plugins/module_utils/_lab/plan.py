# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's plan: a checked spec (:mod:`spec`) into the list arguments of the collection's
modules, which lab_network runs in turn in one process.

:func:`lab_plan` allocates the omitted addresses (:mod:`allocation`) against what the host
holds now, in the form nslab.net.netns_info returns, and is pure: run on the target before
anything changes, and as a filter of the same name on the controller.
"""

from typing import Any, Dict, Optional

from ansible_collections.nslab.net.plugins.module_utils._lab.allocation import allocate, releasing
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import Owned, removals
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import NAME_KEYS, NETWORK_KEYS
from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import LAB_MTU, overlay_layout, underlay
from ansible_collections.nslab.net.plugins.module_utils._names.plan import names_layout
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput


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
        allocate(spec, info, releasing(spec, owned))
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
            # port dropped from the list, or an address that moved, is unpublished. The
            # plan's one form of the ports: lab_spec's, as plain data (see ports.ports_by_destination).
            plan['publish'].append(dict(bridge=network['bridge'], destination=member['address'],
                                        ports=list(member['ports'])))
        if ns['command']:
            service = dict(name=ns['name'], netns=ns['name'], command=ns['command'])
            if ns['chdir']:
                service['chdir'] = ns['chdir']
            plan['services'].append(service)
        plan['namespaces'].append(dict(
            name=ns['name'], command=ns['command'],
            networks=[dict(network=m['network'], bridge=networks[m['network']]['bridge'],
                           interface=m['interface'], host_interface=m['host_interface'],
                           address=m['address'])
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
