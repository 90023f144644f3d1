# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data that planning works on: what a namespace holds, and the steps that change it.

The netlink adapter fills these from the kernel; the planners read them and emit Steps; the
same Steps are applied to the kernel by the adapter or, in check mode and for the diff, to a
copy of the observed views by ``simulate_links``. Reporting reads views only, so a prediction and a
re-read after a real run are rendered by the same code and can be compared as data.
"""


import copy
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.addresses import sorted_addresses
from ansible_collections.nslab.net.plugins.module_utils._common.values import init_frozen


@dataclass
class Link:
    """One interface as planning needs it. ``master`` is a name in the same namespace.

    ``addresses`` may be given in any order and with repeats; it is kept normalised, so two
    views of the same interface compare equal.
    """

    name: str
    index: int = 0
    kind: Optional[str] = None
    up: bool = False
    mtu: Optional[int] = 1500
    master: Optional[str] = None
    addresses: Tuple[str, ...] = ()
    peer_index: Optional[int] = None
    peer_nsid: Optional[int] = None
    stp: Optional[bool] = None
    hairpin: Optional[bool] = None

    def __post_init__(self) -> None:
        self.addresses = tuple(sorted_addresses(self.addresses))


class NamespaceView:
    """The links and default routes of one network namespace (``netns`` None: the host's).

    ``exists`` is False for a named namespace that is not there (yet); in check mode a plan is
    made against such an empty view, because an earlier task of the same play would create it.
    ``default_routes`` maps the IP version (4 or 6) to ``(gateway, device name)``.
    """

    def __init__(self, netns: Optional[str] = None, exists: bool = True, links: Iterable[Link] = (),
                 default_routes: Optional[Mapping[int, Tuple[str, Optional[str]]]] = None) -> None:
        self.netns = netns
        self.exists = exists
        self.links = {link.name: link for link in links}
        self.default_routes = dict(default_routes or {})

    def copy(self) -> 'NamespaceView':
        return copy.deepcopy(self)

    def link(self, name: str) -> Optional[Link]:
        return self.links.get(name)


@dataclass(frozen=True, init=False, repr=False)
class Step:
    """One change to the kernel: an operation on ``name`` in ``netns`` with its arguments.

    Operations: create_netns, delete_netns, create_bridge, create_veth, delete_link,
    set_mtu, set_up, set_master, set_hairpin, set_stp, add_address, delete_address,
    replace_default_route.
    """

    op: str
    netns: Optional[str]
    name: str
    args: Dict[str, Any]

    def __init__(self, op: str, netns: Optional[str], name: str, **args: Any) -> None:
        init_frozen(self, op=op, netns=netns, name=name, args=args)

    def __repr__(self) -> str:
        return 'Step(%r, %r, %r, %r)' % (self.op, self.netns, self.name, self.args)

    def as_command(self) -> str:
        """The ``ip`` command a person would type for this step: shown to users in results."""
        ip = 'ip -n %s' % self.netns if self.netns else 'ip'
        a = self.args
        if self.op == 'create_netns':
            return 'ip netns add %s' % self.name
        if self.op == 'delete_netns':
            kill = 'kill %s; ' % ' '.join(str(p) for p in a['kill']) if a.get('kill') else ''
            return '%sip netns delete %s' % (kill, self.name)
        if self.op == 'create_bridge':
            extra = ' stp_state 1' if a.get('stp') else ''
            mtu = ' mtu %d' % a['mtu'] if a.get('mtu') else ''
            return '%s link add %s%s type bridge%s' % (ip, self.name, mtu, extra)
        if self.op == 'create_veth':
            mtu = ' mtu %d' % a['mtu'] if a.get('mtu') else ''
            peer_ns = a['peer_netns'] if a['peer_netns'] else '1'
            into = '' if a['peer_netns'] == self.netns else ' netns %s' % peer_ns
            return '%s link add %s%s type veth peer name %s%s%s' % (
                ip, self.name, mtu, a['peer'], mtu, into)
        if self.op == 'delete_link':
            return '%s link delete %s' % (ip, self.name)
        if self.op == 'set_mtu':
            return '%s link set %s mtu %d' % (ip, self.name, a['mtu'])
        if self.op == 'set_up':
            return '%s link set %s %s' % (ip, self.name, 'up' if a['up'] else 'down')
        if self.op == 'set_master':
            if a['master'] is None:
                return '%s link set %s nomaster' % (ip, self.name)
            return '%s link set %s master %s' % (ip, self.name, a['master'])
        if self.op == 'set_hairpin':
            return '%s link set %s type bridge_slave hairpin %s' % (ip, self.name, 'on' if a['hairpin'] else 'off')
        if self.op == 'set_stp':
            return '%s link set %s type bridge stp_state %d' % (ip, self.name, int(a['stp']))
        if self.op == 'add_address':
            return '%s address add %s dev %s' % (ip, a['address'], self.name)
        if self.op == 'delete_address':
            return '%s address delete %s dev %s' % (ip, a['address'], self.name)
        if self.op == 'replace_default_route':
            family = ' -6' if ':' in a['gateway'] else ''
            return '%s%s route replace default via %s dev %s' % (ip, family, a['gateway'], self.name)
        raise ValueError('unknown step %r' % (self.op,))


def _drop_routes_via(view: NamespaceView, name: str) -> None:
    view.default_routes = {version: route for version, route in view.default_routes.items()
                           if route[1] != name}


def _drop_link(view: NamespaceView, name: str) -> None:
    """Remove a link from a view with the kernel's side effects on ports and routes."""
    view.links.pop(name, None)
    for other in view.links.values():
        if other.master == name:
            other.master = None
    _drop_routes_via(view, name)


def simulate_links(views: Mapping[Optional[str], NamespaceView], steps: Iterable[Step]) -> Dict[Optional[str], NamespaceView]:
    """Apply ``steps`` to copies of ``views`` (a dict netns -> NamespaceView) and return them.

    Mirrors what the kernel does for each step, including the side effects planning relies
    on (a deleted veth takes its peer along; a link set down loses its routes).
    """
    result = {key: view.copy() for key, view in views.items()}

    def view_of(netns: Optional[str]) -> NamespaceView:
        if netns not in result:
            result[netns] = NamespaceView(netns, exists=True)
        return result[netns]

    for step in steps:
        a = step.args
        if step.op == 'create_netns':
            result[step.name] = NamespaceView(step.name, exists=True, links=[Link('lo', kind=None, mtu=65536)])
            continue
        if step.op == 'delete_netns':
            result[step.name] = NamespaceView(step.name, exists=False)
            continue
        view = view_of(step.netns)
        link = view.link(step.name)
        if step.op == 'create_bridge':
            view.links[step.name] = Link(step.name, kind='bridge', mtu=a.get('mtu') or 1500, stp=bool(a.get('stp')))
        elif step.op == 'create_veth':
            mtu = a.get('mtu') or 1500
            view.links[step.name] = Link(step.name, kind='veth', mtu=mtu)
            view_of(a['peer_netns']).links[a['peer']] = Link(a['peer'], kind='veth', mtu=mtu)
        elif step.op == 'delete_link':
            _drop_link(view, step.name)
            if a.get('peer'):
                peer_netns, peer_name = a['peer']
                _drop_link(view_of(peer_netns), peer_name)
        elif step.op == 'set_mtu':
            link.mtu = a['mtu']
        elif step.op == 'set_up':
            link.up = a['up']
            if not a['up']:
                _drop_routes_via(view, step.name)
        elif step.op == 'set_master':
            link.master = a['master']
            link.hairpin = False if a['master'] else None
        elif step.op == 'set_hairpin':
            link.hairpin = a['hairpin']
        elif step.op == 'set_stp':
            link.stp = a['stp']
        elif step.op == 'add_address':
            link.addresses = tuple(sorted_addresses(link.addresses + (a['address'],)))
        elif step.op == 'delete_address':
            link.addresses = tuple(x for x in link.addresses if x != a['address'])
        elif step.op == 'replace_default_route':
            version = 6 if ':' in a['gateway'] else 4
            view.default_routes[version] = (a['gateway'], step.name)
        else:
            raise ValueError('unknown step %r' % (step.op,))
    return result


def describe(view: NamespaceView) -> Dict[str, Any]:
    """A NamespaceView as plain data (what netns_info returns), links in kernel (index) order."""
    links = sorted(view.links.values(), key=lambda link: link.index)
    return {
        'exists': view.exists,
        'links': [dict(name=link.name, kind=link.kind, up=link.up, mtu=link.mtu, master=link.master,
                       hairpin=link.hairpin, addresses=list(link.addresses)) for link in links],
        'default_routes': {str(version): dict(gateway=gateway, interface=interface)
                           for version, (gateway, interface) in view.default_routes.items()},
    }
