# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readers behind :mod:`collisions`: the host's listening sockets and its nat rules.

Sockets come from /proc/net/{tcp,tcp6,udp,udp6} of the calling thread's network namespace
(the module's, the host's), as ``ss -ltun`` shows them; who holds one is looked up in
/proc/PID/fd only for the sockets that matter (a scan of every process's descriptors costs
milliseconds per hundred processes, and the lab needs names only when a port collides).

The nat rules are read whole: the firewall backends read only the chains this collection
writes and the built-in ones, but another owner's DNAT rules live in chains of its own
(Docker's ``DOCKER``).
"""


import ipaddress
import os
import struct
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._firewall import backends
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Rule, Ruleset
from ansible_collections.nslab.net.plugins.module_utils._lab.collisions import Listener
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import (
    FirewallError, LegacyTables, NftTables, iptc_rule_args)

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule

#: file -> (protocol, IPv6, the state a receiving socket is in: TCP LISTEN, UDP unconnected)
PROC_NET_FILES = (('tcp', 'tcp', False, '0A'), ('tcp6', 'tcp', True, '0A'),
                  ('udp', 'udp', False, '07'), ('udp6', 'udp', True, '07'))


def proc_net_dir() -> str:
    """/proc/thread-self/net: the calling thread's namespace (a thread may have entered
    another with setns(), and /proc/self/net follows the main thread's)."""
    return '/proc/thread-self/net' if os.path.isdir('/proc/thread-self/net') else '/proc/self/net'


def _address(text: str, ipv6: bool) -> str:
    """An address as /proc/net prints it: the bytes in memory order, 32-bit words in hex."""
    raw = b''.join(struct.pack('=I', int(text[i:i + 8], 16)) for i in range(0, len(text), 8))
    if not ipv6:
        return str(ipaddress.IPv4Address(raw))
    address = ipaddress.IPv6Address(raw)
    return str(address.ipv4_mapped) if address.ipv4_mapped else str(address)


def parse_proc_net(text: str, proto: str, ipv6: bool, state: str) -> List[Listener]:
    """The receiving sockets in one /proc/net file's ``text``, as Listener items."""
    listeners = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != state:
            continue
        address, unused, port = fields[1].partition(':')
        try:
            listeners.append(Listener(proto, _address(address, ipv6), int(port, 16), int(fields[9]), None))
        except (ValueError, struct.error):
            continue
    return listeners


def socket_processes(inodes: Iterable[int], proc: str = '/proc') -> Dict[int, str]:
    """``{inode: 'comm (pid N)'}`` for the socket inodes in ``inodes``, lowest pid first.

    Processes come and go during the scan, and a process may not be readable: those are
    left out, so a socket may stay unnamed.
    """
    wanted = {'socket:[%d]' % inode: inode for inode in inodes}
    found: Dict[int, str] = {}
    if not wanted:
        return found
    try:
        pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
    except OSError:
        return found
    for pid in pids:
        fd_dir = os.path.join(proc, str(pid), 'fd')
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                inode = wanted.get(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                continue
            if inode is not None and inode not in found:
                try:
                    with open(os.path.join(proc, str(pid), 'comm')) as handle:
                        comm = handle.read().strip()
                except OSError:
                    comm = 'a process'
                found[inode] = '%s (pid %d)' % (comm, pid)
        if len(found) == len(wanted):
            break
    return found


def listening_sockets(ports: Optional[Set[Tuple[str, int]]] = None, directory: Optional[str] = None, processes: bool = True,
                      proc: str = '/proc') -> List[Listener]:
    """The host's receiving sockets (TCP in LISTEN, unconnected UDP) as Listener items.

    ``ports``: a set of ``(proto, port)`` to keep (None: all), e.g.
    :func:`collisions.published_ports` of the lab. ``processes``: name who holds each
    kept socket. ``directory``: where tcp, tcp6, udp and udp6 are (default: the calling
    thread's /proc/.../net); a missing file (no IPv6) has no sockets.
    """
    directory = directory or proc_net_dir()
    listeners = []
    for name, proto, ipv6, state in PROC_NET_FILES:
        try:
            with open(os.path.join(directory, name)) as handle:
                text = handle.read()
        except OSError:
            continue
        listeners += [listener for listener in parse_proc_net(text, proto, ipv6, state)
                      if ports is None or (listener.proto, listener.port) in ports]
    if processes and listeners:
        names = socket_processes({listener.inode for listener in listeners}, proc)
        listeners = [listener._replace(process=names.get(listener.inode)) for listener in listeners]
    return listeners


def nat_ruleset(module: 'AnsibleModule', backend: str, directory: Optional[str] = None) -> Ruleset:
    """Every chain of the host's nat table, as a Ruleset (the filter table left empty).

    ``backend`` is ``nft`` or ``legacy``, as resolved for the lab. A legacy host without a
    nat table yet (none in ip_tables_names) has no rules: opening the table with libiptc
    would create it, and this read changes nothing.
    """
    if backend == 'nft':
        return NftTables(module).read()
    directory = directory or proc_net_dir()
    try:
        with open(os.path.join(directory, 'ip_tables_names')) as handle:
            names = handle.read().split()
    except OSError:
        names = []
    ruleset = Ruleset()
    if 'nat' not in names:
        return ruleset
    LegacyTables(module)  # loads python-iptables and keeps it from creating other tables
    iptc = backends.iptc
    try:
        table = iptc.Table('nat', autocommit=False)
        table.refresh()
        for chain in table.chains:
            ruleset.add_chain('nat', chain.name)
            for rule in chain.rules:
                ruleset.append(Rule('nat', chain.name, iptc_rule_args(rule)))
    except iptc.IPTCError as exc:
        raise FirewallError('python-iptables could not read the legacy nat table: %s' % exc)
    return ruleset
