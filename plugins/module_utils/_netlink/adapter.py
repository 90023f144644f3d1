# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading namespaces into NamespaceViews (dump) and applying Steps (pyroute2).

A netlink socket belongs to the namespace it was opened in. Instead of pyroute2's
``IPRoute(netns=...)``, which forks a helper per namespace, this thread enters each namespace
with setns(), opens its sockets there and comes back at once: one process, a reading and
(only once something is to change) a writing socket per namespace, kept for the whole module
run. pyroute2 itself is imported on the first write. Works with pyroute2 0.7 and 0.9.
"""


import errno
import os
import socket
import sys
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, TypeVar

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._common.addresses import is_link_local
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView
from ansible_collections.nslab.net.plugins.module_utils._netlink.dump import RouteSocket

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step

# Whether pyroute2 can be imported, found without importing it (which costs 0.15 s).
if find_spec('pyroute2') is None:
    PYROUTE2_IMPORT_ERROR: Optional[str] = 'ImportError: No module named pyroute2'
else:
    PYROUTE2_IMPORT_ERROR = None

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
VERSIONS = ((4, socket.AF_INET), (6, socket.AF_INET6))

_T = TypeVar('_T')


def _netlink_error() -> Type[Exception]:
    """pyroute2's NetlinkError once pyroute2 is loaded (a step that needed it loaded it)."""
    exceptions = sys.modules.get('pyroute2.netlink.exceptions')
    return exceptions.NetlinkError if exceptions is not None else OSError


def random_mac() -> str:
    """A random locally administered unicast MAC address (02:xx:xx:xx:xx:xx and the like)."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xfe) | 0x02
    return ':'.join('%02x' % octet for octet in octets)


class StepFailed(Exception):
    """A step failed in the kernel; ``done`` lists the steps applied before it."""

    def __init__(self, step: 'Step', error: BaseException, done: List['Step']) -> None:
        self.step = step
        self.done = done
        super().__init__('%s failed: %s' % (step.as_command(), error))


class Netlink:
    """Sockets into the namespaces a module works on; ``None`` is the module's own namespace."""

    def __init__(self) -> None:
        self._home = named_namespaces.own_namespace_fd()
        self._fds: Dict[Optional[str], int] = {}
        self._readers: Dict[Optional[str], RouteSocket] = {}
        self._sockets: Dict[Optional[str], Any] = {}  # pyroute2's IPRoute
        # Views read since the last change we made, netns -> (view, links_only): the tasks of
        # one lab_network run read the same namespaces in turn, and the kernel changes only
        # through apply(), which forgets them.
        self._views: Dict[Optional[str], Tuple[NamespaceView, bool]] = {}

    def close(self) -> None:
        for netns in set(self._sockets) | set(self._readers) | set(self._fds):
            self._forget(netns)
        os.close(self._home)

    def __enter__(self) -> 'Netlink':
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _forget(self, netns: Optional[str]) -> None:
        for sockets in (self._sockets, self._readers):
            sock = sockets.pop(netns, None)
            if sock is not None:
                sock.close()
        fd = self._fds.pop(netns, None)
        if fd is not None:
            os.close(fd)

    def fd(self, netns: Optional[str]) -> Optional[int]:
        """An fd of the namespace, or None when a named one does not exist."""
        if netns is None:
            return self._home
        if netns not in self._fds:
            if named_namespaces.status(netns) != 'present':
                return None
            self._fds[netns] = os.open(named_namespaces.path_of(netns), os.O_RDONLY | os.O_CLOEXEC)
        return self._fds[netns]

    def opened_in(self, netns: Optional[str], factory: Callable[[], _T]) -> _T:
        """What ``factory()`` opens (a socket) inside ``netns``, where it stays."""
        if netns is None:
            return factory()
        fd = self.fd(netns)
        if fd is None:
            # Read as present moments ago; setns(None) would only say "Invalid argument".
            raise OSError(errno.ENOENT, 'network namespace %s no longer exists' % netns)
        named_namespaces.setns(fd)
        try:
            return factory()
        finally:
            named_namespaces.setns(self._home)

    def socket(self, netns: Optional[str]) -> Any:
        """pyroute2's IPRoute in ``netns``, for writing."""
        if netns not in self._sockets:
            from pyroute2 import IPRoute  # pylint: disable=import-outside-toplevel
            self._sockets[netns] = self.opened_in(netns, IPRoute)
        return self._sockets[netns]

    def reader(self, netns: Optional[str]) -> RouteSocket:
        """A plain netlink socket in ``netns``, for reading."""
        if netns not in self._readers:
            self._readers[netns] = self.opened_in(netns, RouteSocket)
        return self._readers[netns]

    def forget_views(self) -> None:
        """Read afresh next time: for changes the kernel makes on its own (namespace cleanup)."""
        self._views.clear()

    def read_views(self, names: Iterable[Optional[str]], links_only: bool = False) -> Dict[Optional[str], NamespaceView]:
        """A NamespaceView for each of ``names`` (None: the module's own namespace).

        ``links_only`` skips the address and route dumps, for callers that need neither.
        """
        views = {}
        for netns in names:
            if netns in views:
                continue
            cached = self._views.get(netns)
            if cached is not None and (links_only or not cached[1]):
                views[netns] = cached[0]
                continue
            if netns is not None and self.fd(netns) is None:
                views[netns] = NamespaceView(netns, exists=False)
            else:
                views[netns] = self._read_view(netns, links_only)
            self._views[netns] = (views[netns], links_only)
        return views

    def _read_view(self, netns: Optional[str], links_only: bool) -> NamespaceView:
        raw: Any  # a RawAddress, a RawLink and a RawRoute in turn
        dump = self.reader(netns)
        raw_links = dump.links()
        names = {raw.index: raw.name for raw in raw_links}
        addresses: Dict[int, List[str]] = {index: [] for index in names}
        for raw in [] if links_only else dump.addresses():
            if raw.address is None or raw.index not in addresses:
                continue
            text = '%s/%d' % (raw.address, raw.prefixlen)
            if not is_link_local(text):
                addresses[raw.index].append(text)
        links = []
        for raw in raw_links:
            stp = bool(raw.stp_state) if raw.kind == 'bridge' else None
            hairpin = bool(raw.hairpin_mode) if raw.slave_kind == 'bridge' else None
            links.append(Link(
                raw.name, index=raw.index, kind=raw.kind, up=bool(raw.flags & IFF_UP), mtu=raw.mtu,
                master=names.get(raw.master), addresses=addresses[raw.index],
                peer_index=raw.link if raw.kind == 'veth' else None,
                peer_nsid=raw.link_netnsid if raw.kind == 'veth' else None, stp=stp, hairpin=hairpin))
        routes = {}
        for version, family in [] if links_only else VERSIONS:
            for raw in dump.routes(family):
                if raw.dst_len == 0 and raw.table == RT_TABLE_MAIN and raw.type == RTN_UNICAST and raw.gateway:
                    routes[version] = (raw.gateway, names.get(raw.oif))
        return NamespaceView(netns, exists=True, links=links, default_routes=routes)

    def nsids(self, keys: Iterable[Tuple[Optional[str], Optional[str]]]) -> Dict[Tuple[Optional[str], Optional[str]], Optional[int]]:
        """Map each ``(from, to)`` namespace pair to the id ``to`` has inside ``from``."""
        found = {}
        for source, target in keys:
            if self.fd(source) is None or self.fd(target) is None:
                continue
            found[(source, target)] = self.reader(source).nsid(self.fd(target))  # type: ignore[arg-type]  # not None: checked above
        return found

    def apply(self, steps: Iterable['Step']) -> None:
        """Apply ``steps`` in order; raise StepFailed naming the failing step."""
        done: List['Step'] = []
        self._views.clear()
        for step in steps:
            try:
                self._apply(step)
            except (_netlink_error(), OSError) as exc:
                raise StepFailed(step, exc, done)
            done.append(step)

    def _index(self, netns: Optional[str], name: str) -> int:
        return self.reader(netns).link_index(name)

    def _apply(self, step: 'Step') -> None:
        a = step.args
        if step.op == 'create_netns':
            named_namespaces.create(step.name, replace_stale=a.get('replace', False))
            return
        if step.op == 'delete_netns':
            self._forget(step.name)
            if a.get('kill'):
                named_namespaces.kill(step.name, a['kill'])
            named_namespaces.delete(step.name)
            return
        if step.op == 'delete_link':
            self.reader(step.netns).delete_link(self._index(step.netns, step.name))
            return
        ipr = self.socket(step.netns)
        if step.op == 'create_bridge':
            # An address of its own: a bridge without one takes its lowest port's, and changes
            # it when that port goes, so every namespace behind it would lose its gateway until
            # its neighbour cache expires (Docker gives its bridges one likewise).
            ipr.link('add', ifname=step.name, kind='bridge', address=random_mac())
        elif step.op == 'create_veth':
            peer = {'ifname': a['peer']}
            if a['peer_netns'] != step.netns:
                peer['net_ns_fd'] = self.fd(a['peer_netns'])
            ipr.link('add', ifname=step.name, kind='veth', peer=peer)
        elif step.op == 'set_mtu':
            ipr.link('set', index=self._index(step.netns, step.name), mtu=a['mtu'])
        elif step.op == 'set_up':
            ipr.link('set', index=self._index(step.netns, step.name), state='up' if a['up'] else 'down')
        elif step.op == 'set_master':
            master = self._index(step.netns, a['master']) if a['master'] else 0
            ipr.link('set', index=self._index(step.netns, step.name), master=master)
        elif step.op == 'set_hairpin':
            ipr.brport('set', index=self._index(step.netns, step.name), mode=int(a['hairpin']))
        elif step.op == 'set_stp':
            ipr.link('set', index=self._index(step.netns, step.name), kind='bridge', br_stp_state=int(a['stp']))
        elif step.op in ('add_address', 'delete_address'):
            address, prefix = a['address'].split('/')
            ipr.addr('add' if step.op == 'add_address' else 'del', index=self._index(step.netns, step.name),
                     address=address, prefixlen=int(prefix))
        elif step.op == 'replace_default_route':
            family = socket.AF_INET6 if ':' in a['gateway'] else socket.AF_INET
            ipr.route('replace', family=family, dst_len=0, table=RT_TABLE_MAIN, gateway=a['gateway'],
                      oif=self._index(step.netns, step.name))
        else:
            raise ValueError('unknown step %r' % (step.op,))
