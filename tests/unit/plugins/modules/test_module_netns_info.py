# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.netns_info's main(): names checked, then one Netlink read, described."""


import sys

import pytest

from module_harness import FakeNetlink, run_module

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink import session as netlink_session
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView
from ansible_collections.nslab.net.plugins.modules import netns_info

VIEWS = {
    None: NamespaceView(None, links=[Link('lo', 1, up=True, mtu=65536, addresses=['127.0.0.1/8']),
                                     Link('br0', 3, kind='bridge', up=True, addresses=['10.0.0.254/24'], stp=False)]),
    'ns1': NamespaceView('ns1', links=[Link('lo', 1, up=True, mtu=65536),
                                       Link('eth0', 2, kind='veth', up=True, addresses=['10.0.0.1/24'])],
                         default_routes={4: ('10.0.0.254', 'eth0')}),
    'gone': NamespaceView('gone', exists=False),
}


@pytest.fixture
def netlink(monkeypatch):
    FakeNetlink.made = []
    monkeypatch.setattr(netlink_session, 'Netlink', lambda: FakeNetlink(VIEWS))
    monkeypatch.setattr(netlink_session, 'PYROUTE2_IMPORT_ERROR', None)
    monkeypatch.setattr(named_namespaces, 'listed', lambda: ['ns1'])
    return FakeNetlink.made


def test_without_names_every_listed_namespace_and_the_host_are_described(netlink):
    result = run_module(netns_info.main, {})
    assert result['failed'] is False and result['changed'] is False
    assert sorted(result['namespaces']) == ['ns1']
    assert result['namespaces']['ns1']['default_routes'] == {'4': dict(gateway='10.0.0.254', interface='eth0')}
    assert [link['name'] for link in result['host']['links']] == ['lo', 'br0']


def test_named_namespaces_without_the_host(netlink):
    result = run_module(netns_info.main, dict(netns=['gone'], host=False))
    assert result['namespaces'] == {'gone': dict(exists=False, links=[], default_routes={})}
    assert result['host'] == {}


def test_bad_names_fail_with_every_problem_before_a_socket_is_opened(netlink):
    result = run_module(netns_info.main, dict(netns=['a/b', 'ns1', 'two words']))
    assert result == dict(msg="namespace name 'a/b' may not contain '/'; namespace name 'two words' may not contain"
                              " white space",
                          problems=["namespace name 'a/b' may not contain '/'",
                                    "namespace name 'two words' may not contain white space"], failed=True)
    assert netlink == []


def test_without_pyroute2_the_module_respawns_then_names_the_interpreter(netlink, monkeypatch):
    respawns = []
    monkeypatch.setattr(netlink_session, 'PYROUTE2_IMPORT_ERROR', 'ImportError: No module named pyroute2')
    monkeypatch.setattr(netlink_session, 'respawn_with', respawns.append)  # a respawn would not return
    result = run_module(netns_info.main, {})
    assert respawns == ['pyroute2']
    assert result['failed'] is True and 'the Python interpreter %s on the host lacks pyroute2' % sys.executable in result['msg']
    assert netlink == []
