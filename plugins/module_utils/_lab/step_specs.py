# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The specs each step of a lab run converges, built from the plan without parsing again.

Every value in a plan comes from a lab that :func:`spec.lab_spec` checked as a whole (names,
addresses, ports) or from the host (what the lab owns); parsing it again on the way to each
area's converge function would validate it twice on the same machine. These builders write
the specs the areas' ``*_spec`` functions would make from the same step arguments; the unit
tests hold the two equal for every step of representative labs, builds and teardowns.
"""


from typing import Any, Callable, Dict, List, Mapping

from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort, ports_by_destination
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import NETNS_ETC_DIR
from ansible_collections.nslab.net.plugins.module_utils._names.plan import name_files
from ansible_collections.nslab.net.plugins.module_utils._services.paths import default_chdir

Spec = Dict[str, Any]


def netns_spec(items: List[str], state: str, params: Mapping[str, Any], backend: str) -> Spec:
    kill = bool(params['kill_processes']) if state == 'absent' else False
    return dict(names=list(items), loopback=True, kill_processes=kill, state=state)


def bridge_spec(items: List[Dict[str, Any]], state: str, params: Mapping[str, Any], backend: str) -> Spec:
    bridges = [dict(name=item['name'], netns=None, addresses=item.get('addresses'), mtu=item.get('mtu'), stp=False, up=True)
               for item in items]
    return dict(bridges=bridges, state=state)


def _end(name: str, netns: Any, addresses: Any = None, master: Any = None, hairpin: Any = None,
         gateway: Any = None) -> Dict[str, Any]:
    return dict(name=name, netns=netns, addresses=addresses, master=master, hairpin=hairpin, gateway=gateway)


def veth_spec(items: List[Dict[str, Any]], state: str, params: Mapping[str, Any], backend: str) -> Spec:
    pairs = []
    for item in items:
        peer = item['peer']
        pairs.append(dict(a=_end(item['name'], None, master=item.get('master'), hairpin=item.get('hairpin')),
                          b=_end(peer['name'], peer['netns'], peer.get('addresses'), gateway=peer.get('gateway')),
                          mtu=item.get('mtu'), up=True))
    return dict(pairs=pairs, state=state)


def masquerade_spec(items: List[Dict[str, Any]], state: str, params: Mapping[str, Any], backend: str) -> Spec:
    networks = [dict(bridge=item['bridge'], subnet=item.get('subnet'), out_interface=item.get('out_interface'),
                     icc=item.get('icc') is not False, masquerade=item.get('masquerade') is not False)
                for item in items]
    return dict(networks=networks, state=state, backend=backend)


def unpublish_spec(items: List[Dict[str, Any]], backend: str) -> Spec:
    """Removal: a destination's ports, or every port of a bridge named without one."""
    wanted: Dict[str, Dict[str, List[PublishedPort]]] = {}
    for item in items:
        per_bridge = wanted.setdefault(item['bridge'], {})
        if item.get('destination') is not None:
            per_bridge[item['destination']] = []
    for item in items:
        if item.get('destination') is None:
            wanted[item['bridge']] = {}
    return dict(wanted=wanted, state='absent', exclusive=False, backend=backend)


def publish_spec(items: List[Dict[str, Any]], backend: str) -> Spec:
    """Every member of the lab with its ports (``items``: the plan's ``publish``), exclusively:
    what a destination no longer lists on the lab's bridges, or an address that moved, is
    unpublished."""
    wanted: Dict[str, Dict[str, List[PublishedPort]]] = {}
    for (bridge, destination), ports in ports_by_destination(items).items():
        wanted.setdefault(bridge, {})[destination] = ports
    return dict(wanted=wanted, state='present', exclusive=True, backend=backend)


def service_spec(items: List[Dict[str, Any]], state: str, params: Mapping[str, Any], backend: str) -> Spec:
    services = [dict(name=item['name'], netns=item.get('netns'), command=item.get('command'),
                     chdir=item.get('chdir') or default_chdir(item['name']), own_chdir=item.get('chdir') is None)
                for item in items]
    return dict(services=services, problems=[], state=state, manager=params['service_manager'])


BUILDERS: Dict[str, Callable[[List[Any], str, Mapping[str, Any], str], Spec]] = dict(
    netns=netns_spec, bridge=bridge_spec, veth=veth_spec, nat_masquerade=masquerade_spec, netns_service=service_spec)


def overlay_spec(plan: Mapping[str, Any], items: Any, state: str, backend: str) -> Spec:
    """Building: the plan's overlay (``items``) with every lab bridge; removing: the devices in
    ``items``. The overlay has no module of its own: this is its only spec."""
    if state == 'present':
        return dict(state=state, devices=[items['device']], layout=items,
                    bridges=[bridge['name'] for bridge in plan['bridges']], backend=backend)
    return dict(state=state, devices=[item['device'] for item in items], layout=None, bridges=[], backend=backend)


def names_spec(plan: Mapping[str, Any], items: Any, state: str) -> Spec:
    """Building: every name file of the plan's namespaces, written from the plan's ``names``
    (``items``) and its overlay's peers with their namespaces; removing: none of lab
    ``items[0]``'s. The names have no module of their own."""
    if state == 'present':
        peers = (plan.get('overlay') or {}).get('peers') or []
        files = name_files(items['lab'], plan['namespaces'], items['settings'], items['host_files'], peers=peers,
                           resolvers=items['resolvers'])
        return dict(lab=items['lab'], files=files, directory=NETNS_ETC_DIR)
    return dict(lab=items[0], files={}, directory=NETNS_ETC_DIR)


def step_spec(step: str, items: List[Any], state: str, plan: Mapping[str, Any], params: Mapping[str, Any],
              backend: str) -> Spec:
    """The spec of one step of the run: ``items`` of the plan (or its removals), in ``state``."""
    if step == 'port_publish':
        return publish_spec(items, backend) if state == 'present' else unpublish_spec(items, backend)
    if step == 'overlay':
        return overlay_spec(plan, items, state, backend)
    if step == 'names':
        return names_spec(plan, items, state)
    return BUILDERS[step](items, state, params, backend)
