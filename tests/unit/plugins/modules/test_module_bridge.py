# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.bridge's main(): arguments -> bridge_spec -> converge_bridges in one Netlink -> result."""


import pytest

from module_harness import FakeNetlink, patch_netlink_converge, run_module

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.modules import bridge


@pytest.fixture
def converge(monkeypatch):
    return patch_netlink_converge(monkeypatch, bridge, 'converge_bridges')


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_converges_the_parsed_spec_in_one_netlink(converge, check_mode):
    result = run_module(bridge.main, dict(name='br0', addresses=['10.0.0.254/24', '10.0.0.253/24'], stp=True),
                        check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, netlink, spec), = converge.calls
    assert module.check_mode is check_mode and FakeNetlink.made == [netlink]
    assert spec == dict(bridges=[dict(name='br0', netns=None, addresses=['10.0.0.253/24', '10.0.0.254/24'],
                                      mtu=None, stp=True, up=True)], state='present')


def test_bad_bridges_fail_with_every_problem_before_a_socket_is_opened(converge):
    result = run_module(bridge.main, dict(bridges=[dict(name='br0', mtu=70000, addresses=['10.0.0.1']),
                                                   dict(name='br0', addresses=['224.0.0.1/4'])]))
    assert result['failed'] is True
    assert result['problems'] == [
        "bridge 'br0': mtu 70000 is outside 68..65535",
        "bridge 'br0': address '10.0.0.1' needs a prefix length, e.g. 10.0.0.1/24",
        "bridge 'br0': address '224.0.0.1/4' cannot be assigned to an interface",
        "bridge 'br0' in the host namespace is listed twice",
    ]
    assert converge.calls == [] and FakeNetlink.made == []


def test_a_failing_converge_fails_the_module_with_its_fields(converge):
    converge.error = TaskFailed('ip link add br0 type bridge failed: File exists', changed=False,
                                commands=['ip link add br0 type bridge'], applied=[])
    result = run_module(bridge.main, dict(name='br0'))
    assert result == dict(msg='ip link add br0 type bridge failed: File exists', changed=False,
                          commands=['ip link add br0 type bridge'], applied=[], failed=True)
