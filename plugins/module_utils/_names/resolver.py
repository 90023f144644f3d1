# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which nameservers a namespace is given, as Docker chooses them for a container (pure).

A namespace has its own loopback, so a loopback nameserver of the host (systemd-resolved's
127.0.0.53, a local dnsmasq on 127.0.0.1) answers nobody there. Like Docker, the lab gives
namespaces the host's nameservers without the loopback ones; where none is left, those that
systemd-resolved itself forwards to (``/run/systemd/resolve/resolv.conf``); where that file
does not help either, Docker's fallback, Google's public servers, with a warning. The
search domains and options come from the file the servers came from. Servers, search
domains and options the user declares replace the host's.
"""


import ipaddress
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Union

HOST_RESOLV_CONF = '/etc/resolv.conf'
SYSTEMD_RESOLV_CONF = '/run/systemd/resolve/resolv.conf'
#: Docker's, when the host has no nameserver a namespace can reach.
FALLBACK_NAMESERVERS = ('8.8.8.8', '8.8.4.4')


class ResolvConf(NamedTuple):
    """What a resolv.conf says (the lines a resolver reads)."""

    nameservers: List[str]
    search: List[str]
    options: List[str]


class Resolver(NamedTuple):
    """A namespace's resolver and where it came from (``source``: a path, or a variable)."""

    nameservers: List[str]
    search: List[str]
    options: List[str]
    source: str
    warning: Optional[str] = None


def parse_resolv_conf(text: Optional[str]) -> ResolvConf:
    """The nameservers, search domains and options of a resolv.conf's text (None: no file).

    As glibc reads it: ``domain`` and ``search`` replace each other, the last one wins.
    """
    nameservers: List[str] = []
    search: List[str] = []
    options: List[str] = []
    for line in (text or '').splitlines():
        words = line.split('#', 1)[0].split(';', 1)[0].split()
        if len(words) < 2:
            continue
        keyword, values = words[0], words[1:]
        if keyword == 'nameserver':
            nameservers.append(values[0])
        elif keyword in ('search', 'domain'):
            search = values if keyword == 'search' else values[:1]
        elif keyword == 'options':
            options += [value for value in values if value not in options]
    return ResolvConf(nameservers, search, options)


def reachable_nameservers(nameservers: Sequence[str]) -> List[str]:
    """Those of ``nameservers`` a namespace reaches: IPv4 (the lab's namespaces have no IPv6)
    and not loopback (the namespace's loopback is its own)."""
    found = []
    for text in nameservers:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.version == 4 and not address.is_loopback and not address.is_unspecified:
            found.append(str(address))
    return found


def namespace_resolver(host_text: Optional[str], systemd_text: Optional[str], dns: Sequence[str],
                       dns_search: Sequence[str]) -> Resolver:
    """A namespace's resolver, given the host's two resolv.conf texts and the declared values."""
    host = parse_resolv_conf(host_text)
    chosen, source, warning = host, HOST_RESOLV_CONF, None
    servers = reachable_nameservers(host.nameservers)
    if not servers:
        systemd = parse_resolv_conf(systemd_text)
        if reachable_nameservers(systemd.nameservers):
            chosen, source = systemd, SYSTEMD_RESOLV_CONF
            servers = reachable_nameservers(systemd.nameservers)
    if dns:
        servers, source = list(dns), 'dns'
    elif not servers:
        servers, source = list(FALLBACK_NAMESERVERS), 'fallback'
        warning = ('names: the host has no nameserver a namespace can reach (%s names %s, and %s none), so the '
                   'namespaces use %s as Docker does; set lab_dns to choose their nameservers'
                   % (HOST_RESOLV_CONF, ', '.join(host.nameservers) or 'none', SYSTEMD_RESOLV_CONF,
                      ' and '.join(FALLBACK_NAMESERVERS)))
    search = list(dns_search) if dns_search else list(chosen.search)
    return Resolver(servers, search, list(chosen.options), source, warning)


def resolv_conf_lines(resolver: Union[Resolver, Mapping[str, Any]]) -> List[str]:
    """The resolv.conf lines of ``resolver`` (a Resolver, or its description in a plan): all its
    nameservers (glibc asks the first three, musl too), its search domains and options."""
    described = describe_resolver(resolver) if isinstance(resolver, Resolver) else resolver
    lines = ['nameserver %s' % server for server in described['nameservers']]
    if described['search']:
        lines.append('search %s' % ' '.join(described['search']))
    if described['options']:
        lines.append('options %s' % ' '.join(described['options']))
    return lines


def describe_resolver(resolver: Resolver) -> Dict[str, Any]:
    return dict(nameservers=list(resolver.nameservers), search=list(resolver.search), options=list(resolver.options),
                source=resolver.source)
