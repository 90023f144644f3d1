# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The name settings as users write them: ``dns``, ``dns_search`` and ``extra_hosts`` (Docker's
``--dns``, ``--dns-search``, ``--add-host``), of the lab and of one namespace, checked once.

lab_spec gathers their problems with every other one, labelled by where they were written
(``lab`` or ``namespace NAME``), and raises them all at once.
"""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._names.spec import (
    host_name_error, name_settings, parse_extra_hosts, resolver_problems)

# The role's defaults (roles/lab/defaults/main.yml), which the role always passes.
DEFAULTS = dict(state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[], names=True, dns=[], dns_search=[], extra_hosts=[])


def spec(**variables):
    return lab_spec(dict(DEFAULTS, **variables))


def problems_of(**variables):
    with pytest.raises(InvalidInput) as caught:
        spec(**variables)
    return caught.value.problems


# dns

def test_ipv4_nameservers_are_valid_and_kept_in_order():
    assert resolver_problems('lab', ['192.0.2.53', '10.0.0.1'], []) == []
    settings, problems = name_settings(dict(dns=['192.0.2.53', '10.0.0.1']), 'lab')
    assert problems == [] and settings['dns'] == ['192.0.2.53', '10.0.0.1']


@pytest.mark.parametrize('dns, message', [
    ('dns.example.com', "lab: dns: 'dns.example.com' is not an IPv4 address"),
    ('192.0.2.256', "lab: dns: '192.0.2.256' is not an IPv4 address"),
    ('', "lab: dns: '' is not an IPv4 address"),
    ('2001:db8::53', "lab: dns: 2001:db8::53 is IPv6; the lab's namespaces have only IPv4"),
    ('127.0.0.53', "lab: dns: 127.0.0.53 cannot be a namespace's nameserver (a namespace has a loopback of its own)"),
    ('127.0.0.1', "lab: dns: 127.0.0.1 cannot be a namespace's nameserver (a namespace has a loopback of its own)"),
    ('0.0.0.0', "lab: dns: 0.0.0.0 cannot be a namespace's nameserver (a namespace has a loopback of its own)"),
    ('224.0.0.251', "lab: dns: 224.0.0.251 cannot be a namespace's nameserver (a namespace has a loopback of its own)"),
])
def test_a_bad_nameserver_is_named_with_why(dns, message):
    assert resolver_problems('lab', ['192.0.2.53', dns], []) == [message]


def test_dns_and_dns_search_must_be_lists():
    assert resolver_problems('namespace web', '192.0.2.53', 'example.com') == [
        'namespace web: dns must be a list', 'namespace web: dns_search must be a list']
    assert resolver_problems('lab', None, None) == []


# dns_search

def test_search_domains_are_domain_names():
    good = ['example.com', 'corp.example.com.', 'lab', 'under_score.example', 'a-b.c-d.example', 'x' * 63 + '.com']
    assert resolver_problems('lab', [], good) == []


@pytest.mark.parametrize('domain', ['example..com', 'exa mple.com', '-bad.example', 'bad-.example', '.example.com',
                                    'x' * 64 + '.com', '', 42])
def test_a_bad_search_domain_is_named(domain):
    assert resolver_problems('namespace db', [], ['example.com', domain]) == [
        'namespace db: dns_search: %r is not a domain name' % (domain,)]


# extra_hosts

def test_extra_hosts_are_name_address_pairs_as_docker_run_add_host_takes_them():
    assert parse_extra_hosts(['gw:10.0.0.1', 'db.internal:192.0.2.10'], 'lab') == (
        [('gw', '10.0.0.1'), ('db.internal', '192.0.2.10')], [])
    assert parse_extra_hosts(None, 'lab') == ([], [])
    assert parse_extra_hosts([], 'lab') == ([], [])


def test_an_ipv6_extra_host_keeps_its_colons_with_or_without_brackets():
    pairs, problems = parse_extra_hosts(['h:2001:db8::1', 'h6:[2001:db8::2]', 'long:2001:DB8:0:0:0:0:0:3'], 'lab')
    assert problems == []
    assert pairs == [('h', '2001:db8::1'), ('h6', '2001:db8::2'), ('long', '2001:db8::3')]


@pytest.mark.parametrize('text, message', [
    ('x', "lab: extra_hosts: 'x' is not NAME:ADDRESS"),
    ('name:notip', "lab: extra_hosts: 'name:notip': 'notip' is not an IP address"),
    ('name:', "lab: extra_hosts: 'name:': '' is not an IP address"),
    ('bad name:1.2.3.4', "lab: extra_hosts: 'bad name' is not a host name"),
    (':1.2.3.4', "lab: extra_hosts: '' is not a host name"),
    ('h:1.2.3.4.5', "lab: extra_hosts: 'h:1.2.3.4.5': '1.2.3.4.5' is not an IP address"),
])
def test_a_bad_extra_host_is_named_with_why(text, message):
    pairs, problems = parse_extra_hosts(['ok:10.0.0.1', text], 'lab')
    assert problems == [message]
    assert pairs == [('ok', '10.0.0.1')]


def test_extra_hosts_must_be_a_list():
    assert parse_extra_hosts('gw:10.0.0.1', 'namespace web') == (
        [], ['namespace web: extra_hosts must be a list of "NAME:ADDRESS" strings'])


def test_host_names():
    assert host_name_error('web') is None and host_name_error('web.lab') is None
    assert host_name_error('bad name') == "'bad name' is not a host name"
    assert host_name_error(None) == 'None is not a host name'


def test_name_settings_parse_all_three():
    settings, problems = name_settings(
        dict(dns=['192.0.2.53'], dns_search=['example.com'], extra_hosts=['gw:10.0.0.1', 'v6:[2001:db8::1]']), 'lab')
    assert problems == []
    assert settings == dict(dns=['192.0.2.53'], dns_search=['example.com'],
                            extra_hosts=[('gw', '10.0.0.1'), ('v6', '2001:db8::1')])
    assert name_settings({}, 'namespace web') == (dict(dns=[], dns_search=[], extra_hosts=[]), [])


# In lab_spec

def test_the_spec_keeps_the_lab_settings_and_each_namespace_own():
    lab = spec(dns=['192.0.2.53'], dns_search=['example.com'], extra_hosts=['gw:10.0.0.1'], namespaces=[
        dict(name='web', dns=['198.51.100.53'], dns_search=['web.example'], extra_hosts=['api:10.0.0.9']),
        dict(name='db')])
    assert lab['names'] == dict(enabled=True, dns=['192.0.2.53'], dns_search=['example.com'],
                                extra_hosts=[('gw', '10.0.0.1')])
    web, db = lab['namespaces']
    assert (web['dns'], web['dns_search'], web['extra_hosts']) == (
        ['198.51.100.53'], ['web.example'], [('api', '10.0.0.9')])
    assert (db['dns'], db['dns_search'], db['extra_hosts']) == ([], [], [])


def test_names_are_enabled_unless_the_lab_says_false():
    assert spec()['names']['enabled'] is True
    assert spec(names=False)['names']['enabled'] is False
    assert lab_spec(dict(bridge='br0', subnet='10.0.0.0/24'))['names']['enabled'] is True


def test_every_bad_name_setting_is_reported_at_once_naming_the_lab_or_the_namespace():
    problems = problems_of(
        dns=['nameserver.example', '2001:db8::53'], dns_search=['bad domain'], extra_hosts=['x', 'name:notip'],
        namespaces=[dict(name='web', dns=['127.0.0.53'], extra_hosts=['bad name:1.2.3.4']),
                    dict(name='db', dns_search=['ok.example', 'no..dots'], extra_hosts=['h:[2001:db8::1]'])])
    assert sorted(problems) == sorted([
        "lab: dns: 'nameserver.example' is not an IPv4 address",
        "lab: dns: 2001:db8::53 is IPv6; the lab's namespaces have only IPv4",
        "lab: dns_search: 'bad domain' is not a domain name",
        "lab: extra_hosts: 'x' is not NAME:ADDRESS",
        "lab: extra_hosts: 'name:notip': 'notip' is not an IP address",
        "namespace web: dns: 127.0.0.53 cannot be a namespace's nameserver (a namespace has a loopback of its own)",
        "namespace web: extra_hosts: 'bad name' is not a host name",
        "namespace db: dns_search: 'no..dots' is not a domain name",
    ])


def test_name_problems_come_with_the_other_problems_of_the_lab():
    problems = problems_of(gateway='10.1.0.1', dns=['127.0.0.1'], namespaces=[dict(name='a', command='  ')])
    assert 'network br0: gateway 10.1.0.1 is outside the subnet 10.0.0.0/24' in problems
    assert 'namespace a: command must be a non-empty string' in problems
    assert "lab: dns: 127.0.0.1 cannot be a namespace's nameserver (a namespace has a loopback of its own)" in problems
    assert len(problems) == 3, problems
