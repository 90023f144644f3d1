# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name and address validation: what the kernel would refuse is refused first, by name."""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.addresses import (
    is_link_local, parse_gateway, parse_interface_address)
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import interface_name_error, netns_name_error


@pytest.mark.parametrize('name', ['br0', 'veth1-br', 'eth0.br0', 'a' * 15, 'red0.br0'])
def test_valid_interface_names(name):
    assert interface_name_error(name) is None


@pytest.mark.parametrize('name, reason', [
    ('', 'empty'), ('a' * 16, 'longer'), ('a/b', "'/'"), ('a:b', "':'"), ('a b', "' '"), ('..', 'reserved'),
])
def test_invalid_interface_names_say_why(name, reason):
    error = interface_name_error(name)
    assert error is not None and reason in error and repr(name) in error


@pytest.mark.parametrize('name', ['ns1', 'red', 'a' * 40, 'lab-web.1'])
def test_valid_netns_names(name):
    assert netns_name_error(name) is None


@pytest.mark.parametrize('name', ['', '.', '..', 'a/b', 'a b', 'x' * 256])
def test_invalid_netns_names(name):
    assert netns_name_error(name) is not None


@pytest.mark.parametrize('text, normal', [
    ('10.0.0.1/24', '10.0.0.1/24'), (' 10.0.0.254/24', '10.0.0.254/24'),
    ('2001:DB8::1/64', '2001:db8::1/64'), ('192.0.2.0/31', '192.0.2.0/31'), ('192.0.2.7/32', '192.0.2.7/32'),
])
def test_addresses_are_normalised_as_the_kernel_reports_them(text, normal):
    assert parse_interface_address(text) == normal


@pytest.mark.parametrize('text, reason', [
    ('10.0.0.1', 'prefix length'), ('10.0.0.0/24', 'network address'), ('10.0.0.255/24', 'broadcast'),
    ('10.0.0.300/24', 'not an IPv4'), ('224.0.0.1/4', 'cannot be assigned'), ('banana/24', 'not an IPv4'),
])
def test_bad_addresses_are_named(text, reason):
    with pytest.raises(ValueError) as err:
        parse_interface_address(text)
    assert reason in str(err.value) and text in str(err.value)


def test_gateway_must_be_in_a_subnet_of_the_interface():
    assert parse_gateway('10.0.0.254', ['10.0.0.1/24']) == '10.0.0.254'
    assert parse_gateway('10.0.0.254', []) == '10.0.0.254'
    with pytest.raises(ValueError, match='not in the subnet'):
        parse_gateway('10.1.0.254', ['10.0.0.1/24'])
    with pytest.raises(ValueError, match='own address'):
        parse_gateway('10.0.0.1', ['10.0.0.1/24'])
    with pytest.raises(ValueError, match='not an IP address'):
        parse_gateway('gw.example', ['10.0.0.1/24'])


def test_link_local_is_only_ipv6():
    assert is_link_local('fe80::1/64')
    assert not is_link_local('169.254.1.1/16')
    assert not is_link_local('2001:db8::1/64')
