# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.veth's main(): arguments -> veth_spec -> converge_pairs in one Netlink -> result."""


import pytest

from module_harness import FakeNetlink, patch_netlink_converge, run_module

from ansible_collections.nslab.net.plugins.modules import veth


@pytest.fixture
def converge(monkeypatch):
    return patch_netlink_converge(monkeypatch, veth, 'converge_pairs')


def end(name, netns=None, **more):
    return dict(dict(name=name, netns=netns, addresses=None, master=None, hairpin=None, gateway=None), **more)


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_converges_the_parsed_spec_in_one_netlink(converge, check_mode):
    result = run_module(veth.main, dict(name='veth-ns1', master='br0', peer=dict(
        name='eth0', netns='ns1', addresses=['10.0.0.1/24'], gateway='10.0.0.254')), check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, netlink, spec), = converge.calls
    assert module.check_mode is check_mode and FakeNetlink.made == [netlink]
    assert spec == dict(pairs=[dict(a=end('veth-ns1', master='br0'),
                                    b=end('eth0', 'ns1', addresses=['10.0.0.1/24'], gateway='10.0.0.254'),
                                    mtu=None, up=True)], state='present')


def test_bad_pairs_fail_with_every_problem_before_a_socket_is_opened(converge):
    result = run_module(veth.main, dict(pairs=[
        dict(name='veth1', hairpin=True, peer=dict(name='eth0', netns='ns1', gateway='10.0.0.254')),
        dict(name='veth2', up=False,
             peer=dict(name='eth0', netns='ns1', addresses=['10.0.0.2/24'], gateway='10.0.0.254'))]))
    assert result['failed'] is True
    assert result['problems'] == [
        'veth veth1: hairpin is a setting of a bridge port; give master as well',
        'veth veth2: a gateway needs the link up (up: true)',
        'veth eth0 in namespace ns1 is named more than once in this task',
        'namespace ns1 would get two IPv4 default gateways in this task',
    ]
    assert converge.calls == [] and FakeNetlink.made == []


def test_a_first_end_needs_its_peer(converge):
    result = run_module(veth.main, dict(name='veth1'))
    assert result['failed'] is True and 'peer' in result['msg']
    assert FakeNetlink.made == []
