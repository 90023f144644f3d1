# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.netns's main(): arguments -> netns_spec -> converge_netns in one Netlink -> result."""


import pytest

from module_harness import FakeNetlink, patch_netlink_converge, run_module

from ansible_collections.nslab.net.plugins.modules import netns


@pytest.fixture
def converge(monkeypatch):
    return patch_netlink_converge(monkeypatch, netns, 'converge_netns')


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_converges_the_parsed_spec_in_one_netlink(converge, check_mode):
    result = run_module(netns.main, dict(names=['ns1', 'ns2'], state='absent', kill_processes=True), check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, netlink, spec), = converge.calls
    assert module.check_mode is check_mode and FakeNetlink.made == [netlink]
    assert spec == dict(names=['ns1', 'ns2'], loopback=True, kill_processes=True, state='absent')


def test_bad_names_fail_with_every_problem_before_a_socket_is_opened(converge):
    result = run_module(netns.main, dict(name=['ns1', 'a/b', '..', 'ns1']))
    assert result['failed'] is True
    assert result['problems'] == ["namespace name 'a/b' may not contain '/'", "namespace name '..' is reserved",
                                  "namespace 'ns1' is listed twice"]
    assert converge.calls == [] and FakeNetlink.made == []


def test_a_name_is_required(converge):
    result = run_module(netns.main, dict(state='present'))
    assert result['failed'] is True and 'missing required arguments: name' in result['msg']
    assert FakeNetlink.made == []
