# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's name settings as users write them (Docker's ``--dns``, ``--dns-search``,
``--add-host``), checked and parsed once (pure)."""


import ipaddress
import re
from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.addresses import parse_ip

_DOMAIN = re.compile(r'^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?'
                     r'(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$')


def resolver_problems(label: str, dns: Any, dns_search: Any) -> List[str]:
    """Why ``dns`` and ``dns_search`` (one lab's or one namespace's) are not valid; [] if they are."""
    problems = []
    for key, values in (('dns', dns), ('dns_search', dns_search)):
        if values is not None and not isinstance(values, list):
            problems.append('%s: %s must be a list' % (label, key))
    for text in dns if isinstance(dns, list) else []:
        try:
            address = parse_ip(text)
        except ValueError as exc:
            problems.append('%s: dns: %s' % (label, exc))
            continue
        if address.version != 4:
            problems.append('%s: dns: %s is IPv6; the lab\'s namespaces have only IPv4' % (label, text))
        elif address.is_loopback or address.is_unspecified or address.is_multicast:
            problems.append('%s: dns: %s cannot be a namespace\'s nameserver (a namespace has a loopback of its own)'
                            % (label, text))
    for text in dns_search if isinstance(dns_search, list) else []:
        if not isinstance(text, str) or not _DOMAIN.match(text):
            problems.append('%s: dns_search: %r is not a domain name' % (label, text))
    return problems


def host_name_error(text: object) -> Optional[str]:
    """Why ``text`` cannot be a name in a hosts file, or None."""
    if not isinstance(text, str) or not _DOMAIN.match(text):
        return '%r is not a host name' % (text,)
    return None


def parse_extra_hosts(values: Any, label: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    """``[(name, address)]`` of ``extra_hosts`` (``["NAME:ADDRESS"]``, as ``docker run --add-host``
    takes them; an IPv6 address keeps its colons), and the problems found."""
    if values is None:
        return [], []
    if not isinstance(values, list):
        return [], ['%s: extra_hosts must be a list of "NAME:ADDRESS" strings' % label]
    pairs, problems = [], []
    for text in values:
        name, colon, address = str(text).partition(':')
        error = host_name_error(name) if colon else '%r is not NAME:ADDRESS' % (text,)
        if not error:
            try:
                address = str(ipaddress.ip_address(address.strip('[]')))
            except ValueError:
                error = '%r: %r is not an IP address' % (text, address)
        if error:
            problems.append('%s: extra_hosts: %s' % (label, error))
        else:
            pairs.append((name, address))
    return pairs, problems


def name_settings(item: Dict[str, Any], label: str) -> Tuple[Dict[str, Any], List[str]]:
    """The ``dns``, ``dns_search`` and ``extra_hosts`` of a lab's or a namespace's ``item``, parsed."""
    problems = resolver_problems(label, item.get('dns'), item.get('dns_search'))
    extra, more = parse_extra_hosts(item.get('extra_hosts'), label)
    settings = dict(dns=[str(ipaddress.ip_address(str(text))) for text in item.get('dns') or []] if not problems else [],
                    dns_search=list(item.get('dns_search') or []) if not problems else [],
                    extra_hosts=extra)
    return settings, problems + more
