# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading namespaces into NamespaceViews and applying Steps, with pyroute2.

A netlink socket belongs to the namespace it was opened in. Instead of pyroute2's
``IPRoute(netns=...)``, which forks a helper per namespace, this thread enters each namespace
with setns(), opens a plain IPRoute there and comes back at once: one process, one socket per
namespace, kept for the whole module run. Works with pyroute2 0.7 and 0.9.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import traceback

from ansible_collections.nslab.net.plugins.module_utils import netns_files
from ansible_collections.nslab.net.plugins.module_utils.ip_addresses import is_link_local
from ansible_collections.nslab.net.plugins.module_utils.link_model import Link, NamespaceView

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    PYROUTE2_IMPORT_ERROR = None
except ImportError:
    IPRoute = None
    NetlinkError = OSError
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()

IFF_UP = 0x1
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
VERSIONS = ((4, socket.AF_INET), (6, socket.AF_INET6))


class StepFailed(Exception):
    """A step failed in the kernel; ``done`` lists the steps applied before it."""

    def __init__(self, step, error, done):
        self.step = step
        self.done = done
        super(StepFailed, self).__init__('%s failed: %s' % (step.as_command(), error))


class Netlink(object):
    """Sockets into the namespaces a module works on; ``None`` is the module's own namespace."""

    def __init__(self):
        self._home = netns_files.own_namespace_fd()
        self._fds = {}
        self._sockets = {}

    def close(self):
        for netns in list(self._sockets):
            self._forget(netns)
        os.close(self._home)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _forget(self, netns):
        sock = self._sockets.pop(netns, None)
        if sock is not None:
            sock.close()
        fd = self._fds.pop(netns, None)
        if fd is not None:
            os.close(fd)

    def fd(self, netns):
        """An fd of the namespace, or None when a named one does not exist."""
        if netns is None:
            return self._home
        if netns not in self._fds:
            if netns_files.status(netns) != 'present':
                return None
            self._fds[netns] = os.open(netns_files.path_of(netns), os.O_RDONLY | os.O_CLOEXEC)
        return self._fds[netns]

    def socket(self, netns):
        if netns not in self._sockets:
            if netns is None:
                self._sockets[netns] = IPRoute()
            else:
                netns_files.setns(self.fd(netns))
                try:
                    self._sockets[netns] = IPRoute()
                finally:
                    netns_files.setns(self._home)
        return self._sockets[netns]

    def read_views(self, names, links_only=False):
        """A NamespaceView for each of ``names`` (None: the module's own namespace).

        ``links_only`` skips the address and route dumps, for callers that need neither.
        """
        views = {}
        for netns in names:
            if netns in views:
                continue
            if netns is not None and self.fd(netns) is None:
                views[netns] = NamespaceView(netns, exists=False)
            else:
                views[netns] = self._read_view(netns, links_only)
        return views

    def _read_view(self, netns, links_only):
        ipr = self.socket(netns)
        messages = list(ipr.get_links())
        names = dict((msg['index'], msg.get_attr('IFLA_IFNAME')) for msg in messages)
        addresses = dict((index, []) for index in names)
        for msg in [] if links_only else ipr.get_addr():
            address = msg.get_attr('IFA_LOCAL') or msg.get_attr('IFA_ADDRESS')
            if address is None or msg['index'] not in addresses:
                continue
            text = '%s/%d' % (address, msg['prefixlen'])
            if not is_link_local(text):
                addresses[msg['index']].append(text)
        links = []
        for msg in messages:
            kind = msg.get_nested('IFLA_LINKINFO', 'IFLA_INFO_KIND')
            stp = None
            if kind == 'bridge':
                stp = bool(msg.get_nested('IFLA_LINKINFO', 'IFLA_INFO_DATA', 'IFLA_BR_STP_STATE'))
            hairpin = None
            if msg.get_nested('IFLA_LINKINFO', 'IFLA_INFO_SLAVE_KIND') == 'bridge':
                hairpin = bool(msg.get_nested('IFLA_LINKINFO', 'IFLA_INFO_SLAVE_DATA', 'IFLA_BRPORT_MODE'))
            links.append(Link(
                names[msg['index']], index=msg['index'], kind=kind, up=bool(msg['flags'] & IFF_UP),
                mtu=msg.get_attr('IFLA_MTU'), master=names.get(msg.get_attr('IFLA_MASTER')),
                addresses=addresses[msg['index']],
                peer_index=msg.get_attr('IFLA_LINK') if kind == 'veth' else None,
                peer_nsid=msg.get_attr('IFLA_LINK_NETNSID') if kind == 'veth' else None, stp=stp,
                hairpin=hairpin))
        routes = {}
        for version, family in [] if links_only else VERSIONS:
            for msg in ipr.get_routes(family=family):
                table = msg.get_attr('RTA_TABLE') or msg['table']
                gateway = msg.get_attr('RTA_GATEWAY')
                if msg['dst_len'] == 0 and table == RT_TABLE_MAIN and msg['type'] == RTN_UNICAST and gateway:
                    routes[version] = (gateway, names.get(msg.get_attr('RTA_OIF')))
        return NamespaceView(netns, exists=True, links=links, default_routes=routes)

    def nsids(self, keys):
        """Map each ``(from, to)`` namespace pair to the id ``to`` has inside ``from``."""
        found = {}
        for source, target in keys:
            if self.fd(source) is None or self.fd(target) is None:
                continue
            reply = self.socket(source).get_netnsid(fd=self.fd(target))
            nsid = reply.get('nsid') if isinstance(reply, dict) else None
            found[(source, target)] = nsid if nsid is not None and nsid >= 0 else None
        return found

    def apply(self, steps):
        """Apply ``steps`` in order; raise StepFailed naming the failing step."""
        done = []
        for step in steps:
            try:
                self._apply(step)
            except (NetlinkError, OSError) as exc:
                raise StepFailed(step, exc, done)
            done.append(step)

    def _index(self, netns, name):
        found = list(self.socket(netns).link_lookup(ifname=name))
        if not found:
            raise OSError(2, 'no link %s' % name)
        return found[0]

    def _apply(self, step):
        a = step.args
        if step.op == 'create_netns':
            netns_files.create(step.name, replace_stale=a.get('replace', False))
            return
        if step.op == 'delete_netns':
            self._forget(step.name)
            if a.get('kill'):
                netns_files.kill(step.name, a['kill'])
            netns_files.delete(step.name)
            return
        ipr = self.socket(step.netns)
        if step.op == 'create_bridge':
            ipr.link('add', ifname=step.name, kind='bridge')
        elif step.op == 'create_veth':
            peer = {'ifname': a['peer']}
            if a['peer_netns'] != step.netns:
                peer['net_ns_fd'] = self.fd(a['peer_netns'])
            ipr.link('add', ifname=step.name, kind='veth', peer=peer)
        elif step.op == 'delete_link':
            ipr.link('del', index=self._index(step.netns, step.name))
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
