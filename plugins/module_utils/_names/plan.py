# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files that give each namespace its names, and how a run gets there (pure).

``ip netns exec NS`` binds every file of ``/etc/netns/NS/`` over its namesake in /etc, and
the lab's services see the same files (see :mod:`.._services.unit_file`). So each namespace
gets two:

- ``hosts``: the ``extra_hosts`` declared, then every namespace that shares a network with it
  (itself too) as ``ADDRESS NAME NAME.LAB``, with its address on that network, then, with an
  overlay, per peer (another host of the overlay) its namespaces on those networks, as
  ``NAME.PEER`` and ``NAME.PEER.LAB`` and, where no namespace before has that name,
  ``NAME`` and ``NAME.LAB`` too (see :func:`peer_lines`), then the host's own /etc/hosts,
  which the namespace saw before the lab gave it a file. A namespace of a network it is not
  on has no line, on this host or another: isolated networks do not name each other.
- ``resolv.conf``: nameservers it can reach (see :mod:`.resolver`).

Both start with a marker line naming the lab: that line is the file's owner tag, as rules
carry theirs, and it outlives a reboot with the file (the record in /run does not). A file
there without the lab's marker is someone else's, and the run refuses to touch it.
"""


import os
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import NETNS_ETC_DIR, NETNS_ETC_FILES
from ansible_collections.nslab.net.plugins.module_utils._names.spec import host_name_error
from ansible_collections.nslab.net.plugins.module_utils._names.resolver import (
    Resolver, describe_resolver, namespace_resolver, resolv_conf_lines)

_MARKER = re.compile(r'^# nslab\.net lab (\S+): ')
#: A hosts file's lines when the host has no /etc/hosts.
DEFAULT_HOSTS = ('127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback')


class NameOp(NamedTuple):
    """One change: ``write`` a file (``text``), ``remove`` one, or ``rmdir`` an emptied directory."""

    op: str
    path: str
    text: Optional[str] = None


def file_path(netns: str, name: str, directory: str = NETNS_ETC_DIR) -> str:
    return os.path.join(directory, netns, name)


def owner(text: Optional[str]) -> Optional[str]:
    """The lab whose marker ``text`` starts with, or None."""
    match = _MARKER.match(text or '')
    return match.group(1) if match else None


def _marker(lab: str, netns: str, name: str) -> str:
    return ('# nslab.net lab %s: /etc/%s of namespace %s. Every run of the lab rewrites it: change the lab\'s '
            'variables instead.' % (lab, name, netns))


def network_members(namespaces: Sequence[Dict[str, Any]]) -> Dict[str, List[Tuple[str, str]]]:
    """``{network: [(namespace, address)]}`` of the lab's ``namespaces``, in their order, those
    a hosts file can name."""
    members: Dict[str, List[Tuple[str, str]]] = {}
    for other in namespaces:
        for member in other['networks']:
            if member['address'] and nameable(other['name']):
                members.setdefault(member['network'], []).append((other['name'], member['address']))
    return members


def hosts_lines(netns: Dict[str, Any], namespaces: Sequence[Dict[str, Any]], lab: str,
                extra_hosts: Sequence[Tuple[str, str]], host_hosts: Optional[str],
                peers: Sequence[Dict[str, Any]] = (),
                by_network: Optional[Dict[str, List[Tuple[str, str]]]] = None) -> List[str]:
    """The lines of the hosts file of ``netns`` (a plan namespace) among the lab's ``namespaces``
    and those of the overlay's ``peers`` (the plan's overlay peers: ``name`` and ``namespaces``,
    ``[{name, network, address}]`` or None where unknown). ``by_network``: what
    :func:`network_members` says of ``namespaces``, when the caller has it already."""
    lines = []
    if extra_hosts:
        lines.append('# extra_hosts')
        lines += ['%s\t%s' % (address, name) for name, address in extra_hosts]
    lines.append('# the namespaces of its networks')
    own_networks = [member['network'] for member in netns['networks']]
    named = set()
    members = network_members(namespaces) if by_network is None else by_network
    for network in own_networks:
        for name, address in members.get(network, []):
            lines.append('%s\t%s %s.%s' % (address, name, name, lab))
            named.add(name)
    for peer in peers:
        block = peer_lines(peer, own_networks, lab, named)
        if block:
            lines += ['# the namespaces of host %s' % peer['name']] + block
    lines.append('# the host\'s /etc/hosts')
    host_lines = [line for line in (host_hosts or '').splitlines() if line.strip()]
    return lines + (host_lines or list(DEFAULT_HOSTS))


def nameable(name: str) -> bool:
    """Whether a namespace's name can be a host name: ``ip netns`` takes names that a hosts
    file cannot hold (``#`` starts a comment there, a space ends a name), which have no line."""
    return host_name_error(name) is None


def peer_lines(peer: Dict[str, Any], networks: Sequence[str], lab: str, named: Set[str]) -> List[str]:
    """The lines of ``peer``'s namespaces on ``networks`` (a namespace's): ``ADDRESS NAME NAME.LAB
    NAME.PEER NAME.PEER.LAB``. ``NAME`` and ``NAME.LAB`` only where no namespace listed before
    (``named``, which this adds to) has that name: a name resolves to one namespace, the nearest
    (this host's first, then the peers' in the overlay's order); ``NAME.PEER`` always names the
    peer's (unless the peer's inventory name cannot be part of a host name)."""
    lines, bare = [], set()
    qualified = host_name_error(peer['name']) is None
    for network in networks:
        for ns in peer.get('namespaces') or []:
            if ns['network'] != network or not nameable(ns['name']):
                continue
            names = []
            if ns['name'] not in named:
                names += [ns['name'], '%s.%s' % (ns['name'], lab)]
                bare.add(ns['name'])
            if qualified:
                names += ['%s.%s' % (ns['name'], peer['name']), '%s.%s.%s' % (ns['name'], peer['name'], lab)]
            if names:
                lines.append('%s\t%s' % (ns['address'], ' '.join(names)))
    named.update(bare)
    return lines


def namespace_resolvers(namespaces: Sequence[Dict[str, Any]], settings: Dict[str, Any],
                        host_files: Dict[str, Optional[str]]) -> Dict[str, Resolver]:
    """``{namespace: Resolver}``: a namespace's own ``dns`` and ``dns_search`` replace the lab's
    (``settings``); ``host_files`` has the host's ``resolv_conf`` and ``systemd_resolv_conf`` texts."""
    # Namespaces mostly share one choice: it is made once per distinct declaration.
    chosen: Dict[Tuple[Tuple[str, ...], Tuple[str, ...]], Resolver] = {}
    resolvers = {}
    for netns in namespaces:
        key = (tuple(netns.get('dns') or settings.get('dns') or []),
               tuple(netns.get('dns_search') or settings.get('dns_search') or []))
        if key not in chosen:
            chosen[key] = namespace_resolver(host_files.get('resolv_conf'), host_files.get('systemd_resolv_conf'),
                                             list(key[0]), list(key[1]))
        resolvers[netns['name']] = chosen[key]
    return resolvers


def name_files(lab: str, namespaces: Sequence[Dict[str, Any]], settings: Dict[str, Any],
               host_files: Dict[str, Optional[str]], directory: str = NETNS_ETC_DIR,
               peers: Sequence[Dict[str, Any]] = (), resolvers: Optional[Dict[str, Any]] = None) -> Dict[str, str]:
    """``{path: text}`` of the lab's ``namespaces`` (plan namespaces).

    ``settings`` has the lab's ``dns``, ``dns_search`` and ``extra_hosts`` (parsed pairs; a
    namespace's own add to these), ``host_files`` the host's ``hosts`` too, ``peers`` the
    overlay's peers with their namespaces (the plan's overlay ``peers``), ``resolvers`` each
    namespace's resolver as the plan describes it (chosen again when not given).
    """
    files = {}
    if resolvers is None:
        resolvers = namespace_resolvers(namespaces, settings, host_files)
    by_network = network_members(namespaces)
    for netns in namespaces:
        extra = list(settings.get('extra_hosts') or []) + list(netns.get('extra_hosts') or [])
        hosts = hosts_lines(netns, namespaces, lab, extra, host_files.get('hosts'), peers, by_network)
        for name, lines in (('hosts', hosts), ('resolv.conf', resolv_conf_lines(resolvers[netns['name']]))):
            files[file_path(netns['name'], name, directory)] = '\n'.join([_marker(lab, netns['name'], name)] + lines) + '\n'
    return files


def names_layout(lab: str, namespaces: Sequence[Dict[str, Any]], settings: Dict[str, Any],
                 host_files: Dict[str, Optional[str]]) -> Dict[str, Any]:
    """The plan's ``names``: what the step needs to write the files (not the files: at 200
    namespaces on one network they hold 40,000 lines, which the plan would carry back to the
    controller), each namespace's resolver, and the warnings of the run."""
    resolvers = namespace_resolvers(namespaces, settings, host_files)
    warnings = sorted({resolver.warning for resolver in resolvers.values() if resolver.warning})
    return dict(lab=lab, settings={key: settings.get(key) or [] for key in ('dns', 'dns_search', 'extra_hosts')},
                host_files=dict(host_files), warnings=warnings,
                resolvers={name: describe_resolver(resolver) for name, resolver in resolvers.items()})


def wanted_paths(plan_names: Optional[Dict[str, Any]], namespaces: Sequence[Dict[str, Any]],
                 directory: str = NETNS_ETC_DIR) -> List[str]:
    """The paths of the files a plan writes (none when its ``names`` is None)."""
    if not plan_names:
        return []
    return [file_path(netns['name'], name, directory) for netns in namespaces for name in NETNS_ETC_FILES]


def names_problems(lab: str, wanted: Iterable[str], current: Dict[str, Optional[str]]) -> List[str]:
    """Why the run would write over files that are not the lab's (``wanted``: paths); []
    when it would not."""
    problems = []
    for path in sorted(wanted):
        text = current.get(path)
        if text is None:
            continue
        other = owner(text)
        if other is None:
            problems.append('%s exists and was not written by nslab.net; the lab never overwrites it (remove it, '
                            'or set lab_names: false to manage the namespaces\' names yourself)' % path)
        elif other != lab:
            problems.append('%s belongs to lab %s; give this lab\'s namespace another name' % (path, other))
    return problems


def plan_names(lab: str, wanted: Dict[str, str], current: Dict[str, Optional[str]],
               directory: str = NETNS_ETC_DIR, made: Optional[Set[str]] = None) -> List[NameOp]:
    """The changes from ``current`` (every name file under ``directory``) to ``wanted``.

    The lab's files that are not wanted go, and with them the directories they leave empty
    that the lab made (``made``, see :mod:`.directories`; None: any): the adapter checks that a
    directory is empty, so one holding anything else stays.
    """
    ops = [NameOp('write', path, text) for path, text in sorted(wanted.items()) if current.get(path) != text]
    gone = [path for path, text in sorted(current.items()) if path not in wanted and owner(text) == lab]
    ops += [NameOp('remove', path) for path in gone]
    emptied = sorted({os.path.dirname(path) for path in gone})
    ops += [NameOp('rmdir', path) for path in emptied if made is None or path in made]
    if emptied and (made is None or directory in made):
        ops.append(NameOp('rmdir', directory))
    return ops


def describe_files(files: Dict[str, Optional[str]], lab: str) -> Dict[str, str]:
    """The lab's files among ``files``, for the diff."""
    return {path: text for path, text in sorted(files.items()) if text is not None and owner(text) == lab}
