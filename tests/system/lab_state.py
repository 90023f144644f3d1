# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A normalised description of the lab state a sandbox world's host holds, to compare two hosts.

Two hosts that hold the same lab give equal descriptions, however they got there (a fresh
build, or a lab edited and converged): what the kernel identifies by number and what the
kernel picks at random is left out (ifindexes, MAC addresses, namespace ids, counters).
The description holds:

- ``namespaces``: every named namespace (``/run/netns``) with its links (name, kind, up,
  addresses, MTU), its IPv4 default routes and the command lines of the processes inside it
  (or "not a namespace" for a name in /run/netns with no namespace mounted on it);
- ``host_links``: the host's bridges, veths and VXLAN devices (name, kind, master, addresses,
  up, hairpin; a VXLAN device also its VNI, port, local address, learning, MAC (the overlay
  sets it) and its FDB entries, neighbours and routes);
- ``iptables``: per flavour (nft and legacy, whichever the world's iptables is) and table,
  the ``iptables-save`` lines of the ``NSLAB-*`` chains and the jumps to them, without
  counters. Our chains hold rules whose order does not matter (docs/architecture.md: each
  such chain holds rules of one verdict, or rules that cannot match the same packet), and a
  converged lab appends where a fresh one was written in one go, so their rules are
  compared as sorted lists; the order of ``NSLAB-FORWARD`` and of our jumps in the built-in
  chains matters and is kept;
- ``sysctls``: ``net.ipv4.ip_forward``, ``bridge-nf-call-iptables`` and each host bridge's
  ``route_localnet``.

The reading runs inside the world, as one ``python3`` process (this file run as a script,
with nothing but the standard library), so it costs one command per description.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys

_BUILTIN_CHAINS = frozenset(('INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING'))
_ORDERED_CHAINS = _BUILTIN_CHAINS | frozenset(('NSLAB-FORWARD',))
_COUNTERS = re.compile(r'\s*\[\d+:\d+\]')
_FLAVOURS = ('nft', 'legacy')
RECORD_DIR = '/run/nslab/labs'


def _run(argv):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (argv, result.returncode, result.stderr))
    return result.stdout


def _json_of(argv):
    text = _run(argv).strip()
    return json.loads(text) if text else []


def _ip_json(*args):
    return _json_of(['ip'] + list(args))


def _addresses(link):
    """The link's addresses but the IPv6 link-local ones the kernel derives from its MAC."""
    return sorted('%s/%s' % (a['local'], a['prefixlen']) for a in link.get('addr_info') or []
                  if not (a.get('family') == 'inet6' and a.get('scope') == 'link'))


def _kind(link):
    return (link.get('linkinfo') or {}).get('info_kind') or link.get('link_type')


def _link(link, host):
    described = dict(name=link['ifname'], kind=_kind(link), up='UP' in (link.get('flags') or []),
                     mtu=link.get('mtu'), addresses=_addresses(link))
    if host:
        slave = (link.get('linkinfo') or {}).get('info_slave_data') or {}
        described.update(master=link.get('master'), hairpin=slave.get('hairpin'))
    return described


def _vxlan(name):
    """What a VXLAN device carries: its settings and its static entries."""
    device = _ip_json('-d', '-j', 'link', 'show', 'dev', name)[0]
    data = (device.get('linkinfo') or {}).get('info_data') or {}
    fdb = _json_of(['bridge', '-j', 'fdb', 'show', 'dev', name])
    return dict(vni=data.get('id'), port=data.get('port'), local=data.get('local'), learning=data.get('learning'),
                mac=device.get('address'),
                fdb=sorted('%s dst %s' % (entry['mac'], entry['dst']) for entry in fdb if entry.get('dst')),
                neighbours=sorted('%s lladdr %s' % (entry['dst'], entry.get('lladdr'))
                                  for entry in _ip_json('-j', 'neigh', 'show', 'dev', name)),
                routes=sorted('%s via %s src %s' % (entry['dst'], entry.get('gateway'), entry.get('prefsrc'))
                              for entry in _ip_json('-j', '-4', 'route', 'show', 'dev', name)))


def _default_routes(netns):
    routes = _ip_json('-n', netns, '-j', '-4', 'route', 'show', 'default')
    return sorted(('%s via %s dev %s' % (r.get('dst'), r.get('gateway'), r.get('dev'))) for r in routes)


def _processes_by_netns(names):
    """{namespace name: sorted command lines of the processes that run in it}."""
    inodes = {}
    for name in names:
        try:
            inodes[os.stat('/run/netns/%s' % name).st_ino] = name
        except OSError:
            pass
    found = {name: [] for name in names}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            inode = os.stat('/proc/%s/ns/net' % entry).st_ino
            with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if inode in inodes and cmdline:
            found[inodes[inode]].append(cmdline.rstrip(b'\0').replace(b'\0', b' ').decode('utf-8', 'replace'))
    return {name: sorted(lines) for name, lines in found.items()}


def _iptables(flavour):
    """{table: lines} of our chains in ``iptables-<flavour>-save``; None where it cannot read."""
    try:
        text = _run(['iptables-%s-save' % flavour])
    except (OSError, RuntimeError):
        return None
    tables = {}
    table = None
    for line in text.splitlines():
        if line.startswith('*'):
            table = line[1:].strip()
            continue
        if table is None or 'NSLAB' not in line:
            continue
        line = _COUNTERS.sub('', line).rstrip()
        if line.startswith(':'):
            tables.setdefault(table, {}).setdefault(':chains', []).append(line)
        else:
            chain = line.split()[1]
            tables.setdefault(table, {}).setdefault(chain, []).append(line)
    described = {}
    for table, chains in sorted(tables.items()):
        lines = sorted(chains.pop(':chains', []))
        for chain in sorted(chains):
            lines += chains[chain] if chain in _ORDERED_CHAINS else sorted(chains[chain])
        described[table] = lines
    return described


def _read(path):
    try:
        with open(path, encoding='ascii') as handle:
            return handle.read().strip()
    except OSError:
        return None


def describe():
    """The description of the lab state of the host this runs on (see the module docstring)."""
    names = sorted(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else []
    processes = _processes_by_netns(names)
    namespaces = {}
    nsfs = os.stat('/proc/self/ns/net').st_dev
    for name in names:
        if os.stat('/run/netns/%s' % name).st_dev != nsfs:
            # A name without a namespace mounted on it (a deletion cut short): ip netns
            # lists it, and cannot enter it.
            namespaces[name] = 'not a namespace'
            continue
        links = sorted((_link(link, False) for link in _ip_json('-n', name, '-d', '-j', 'addr', 'show')),
                       key=lambda link: link['name'])
        namespaces[name] = dict(links=links, default_routes=_default_routes(name), processes=processes[name])
    host_links = sorted((_link(link, True) for link in _ip_json('-d', '-j', 'addr', 'show')
                         if _kind(link) in ('bridge', 'veth', 'vxlan')), key=lambda link: link['name'])
    for link in host_links:
        if link['kind'] == 'vxlan':
            link.update(_vxlan(link['name']))
    sysctls = {'net.ipv4.ip_forward': _read('/proc/sys/net/ipv4/ip_forward'),
               'net.bridge.bridge-nf-call-iptables': _read('/proc/sys/net/bridge/bridge-nf-call-iptables')}
    for link in host_links:
        if link['kind'] == 'bridge':
            sysctls['route_localnet:%s' % link['name']] = _read(
                '/proc/sys/net/ipv4/conf/%s/route_localnet' % link['name'])
    return dict(namespaces=namespaces, host_links=host_links,
                iptables={flavour: _iptables(flavour) for flavour in _FLAVOURS}, sysctls=sysctls)


# -- used by the tests, outside the world ---------------------------------------------------

def lab_state(world):
    """:func:`describe` of ``world``'s host."""
    return json.loads(world.run(['python3', os.path.abspath(__file__)], timeout=120).stdout)


def diff(expected, actual, expected_name='fresh build', actual_name='this host'):
    """A unified diff of two descriptions, for assertion messages ("" when they are equal)."""
    def lines(state):
        return json.dumps(state, indent=1, sort_keys=True).splitlines()
    return '\n'.join(difflib.unified_diff(lines(expected), lines(actual), expected_name, actual_name,
                                          lineterm='', n=3))


def processes(world, fragment):
    """Command lines of every process of the world (any namespace) that contain ``fragment``."""
    script = ('import os, sys\n'
              'for pid in os.listdir("/proc"):\n'
              '    try:\n'
              '        line = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\\0", b" ").strip()\n'
              '    except (OSError, ValueError):\n'
              '        continue\n'
              '    if pid.isdigit() and sys.argv[1].encode() in line and int(pid) != os.getpid():\n'
              '        print(pid, line.decode("utf-8", "replace"))\n')
    output = world.run(['python3', '-c', script, fragment], timeout=60).stdout
    return [line.split(' ', 1)[1] for line in output.splitlines()]


def record_exists(world, lab='lab'):
    """Whether the lab ``lab`` has a record on the world's host."""
    return world.run(['test', '-e', '%s/%s.json' % (RECORD_DIR, lab)], check=False).returncode == 0


if __name__ == '__main__':
    json.dump(describe(), sys.stdout, sort_keys=True)
    sys.stdout.write('\n')
