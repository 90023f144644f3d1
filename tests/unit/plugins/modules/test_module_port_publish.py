# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.port_publish's main(): arguments -> publish_spec -> converge_publish in one Netlink -> result."""


import pytest

from module_harness import FakeNetlink, patch_netlink_converge, run_module

from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort
from ansible_collections.nslab.net.plugins.modules import port_publish


@pytest.fixture
def converge(monkeypatch):
    return patch_netlink_converge(monkeypatch, port_publish, 'converge_publish')


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_converges_the_parsed_spec_in_one_netlink(converge, check_mode):
    result = run_module(port_publish.main, dict(bridge='br0', destination='10.0.0.2',
                                                ports=['8080:80', '127.0.0.1:5353:53/udp'], backend='nft'), check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, netlink, spec), = converge.calls
    assert module.check_mode is check_mode and FakeNetlink.made == [netlink]
    assert spec == dict(wanted={'br0': {'10.0.0.2': [PublishedPort('tcp', None, 8080, '10.0.0.2', 80),
                                                     PublishedPort('udp', '127.0.0.1', 5353, '10.0.0.2', 53)]}},
                        state='present', exclusive=False, backend='nft')


def test_a_bridge_alone_is_enough_to_remove_all_its_ports(converge):
    run_module(port_publish.main, dict(bridge='br0', state='absent'))
    spec = converge.calls[0][2]
    assert spec['wanted'] == {'br0': {}}


def test_bad_ports_fail_with_every_problem_before_a_socket_is_opened(converge):
    result = run_module(port_publish.main, dict(publish=[
        dict(bridge='br0', destination='10.0.0.2', ports=['8080:80', '8080:81', '70000:80']),
        dict(bridge='br0', destination='fd00::2', ports=['9090:90'])]))
    assert result['failed'] is True
    assert result['problems'] == [
        "bridge br0, destination 10.0.0.2: port '70000:80': ports must be 1..65535, ranges low-high",
        'bridge br0: destination fd00::2 is IPv6; only IPv4 is supported',
        'host port 8080/tcp is published twice: 8080:80/tcp -> 10.0.0.2 and 8080:81/tcp -> 10.0.0.2',
    ]
    assert converge.calls == [] and FakeNetlink.made == []


def test_ports_and_publish_are_mutually_exclusive(converge):
    result = run_module(port_publish.main, dict(bridge='br0', publish=[dict(bridge='br1')]))
    assert result['failed'] is True and 'mutually exclusive' in result['msg']
