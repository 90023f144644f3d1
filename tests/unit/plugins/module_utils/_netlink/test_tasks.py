# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netlink flow (run_netlink) and the three netlink tasks, against a FakeNetlink.

The fake stands at the adapter's boundary: reads return the NamespaceViews a test gives,
apply records the steps (or refuses one, as the kernel can). What the kernel would show after
a real run is the test's next view, not a simulation, so a report of the re-read is tested
apart from the planner's own simulation, which check mode uses.
"""

from __future__ import annotations


import pytest

from adapter_fakes import FakeModule, FakeNetlink

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink import session as netlink_session
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_task import bridge_spec, converge_bridges
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView, Step
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_task import converge_netns, netns_spec
from ansible_collections.nslab.net.plugins.module_utils._netlink.runner import run_netlink
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_task import converge_pairs, veth_spec

HOST = NamespaceView(None, links=[Link('lo', 1, up=True, mtu=65536), Link('eth0', 2, up=True)])
BR0_UP = NamespaceView(None, links=list(HOST.links.values()) + [
    Link('br0', 3, kind='bridge', up=True, addresses=['10.0.0.254/24'], stp=False)])


def lo_of(netns, up):
    return NamespaceView(netns, links=[Link('lo', 1, up=up, mtu=65536)])


def report_links(views):
    return sorted(name for view in views.values() for name in view.links)


# --- run_netlink


def test_problems_fail_the_task_before_any_change():
    netlink = FakeNetlink({None: HOST})
    seen = []

    def plan(views, nsids):
        seen.append((sorted(views, key=str), nsids))
        return [Step('set_up', None, 'eth0', up=False)], ['first problem', 'second problem']

    with pytest.raises(TaskFailed) as failed:
        run_netlink(netlink, False, 'links', [None], plan, report_links, nsid_keys=[(None, 'ns1')])
    assert failed.value.msg == 'first problem; second problem'
    assert failed.value.fields == dict(problems=['first problem', 'second problem'], changed=False)
    assert seen == [([None], {})] and netlink.nsid_calls == [[(None, 'ns1')]]
    assert netlink.applied == []


def test_nothing_to_do_reads_once_and_reports_that_read():
    netlink = FakeNetlink({None: HOST})
    result = run_netlink(netlink, False, 'links', [None], lambda views, nsids: ([], []), report_links)
    assert result == dict(changed=False, commands=[], diff=dict(before=dict(links=['eth0', 'lo']),
                                                                after=dict(links=['eth0', 'lo'])),
                          links=['eth0', 'lo'])
    assert netlink.read_calls == [([None], False)] and netlink.applied == []


def test_check_mode_reports_the_simulation_and_applies_nothing():
    netlink = FakeNetlink({None: HOST})
    steps = [Step('create_bridge', None, 'br0')]
    result = run_netlink(netlink, True, 'links', [None], lambda views, nsids: (steps, []), report_links)
    assert netlink.applied == [] and len(netlink.read_calls) == 1
    assert result['changed'] is True and result['commands'] == ['ip link add br0 type bridge']
    assert result['links'] == ['br0', 'eth0', 'lo']


def test_a_real_run_applies_the_steps_and_reports_a_fresh_read():
    netlink = FakeNetlink({None: HOST}, {None: BR0_UP})
    steps = [Step('create_bridge', None, 'br0'), Step('set_up', None, 'br0', up=True)]
    result = run_netlink(netlink, False, 'links', [None], lambda views, nsids: (steps, []), report_links,
                         links_only=True)
    assert netlink.applied == [steps]
    assert netlink.read_calls == [([None], True), ([None], True)]
    assert result['diff'] == dict(before=dict(links=['eth0', 'lo']), after=dict(links=['br0', 'eth0', 'lo']))


@pytest.mark.parametrize('fail_at, changed', [(0, False), (1, True)])
def test_a_step_the_kernel_refuses_fails_with_what_was_applied(fail_at, changed):
    netlink = FakeNetlink({None: HOST}, fail_at=fail_at, error='File exists')
    steps = [Step('create_bridge', None, 'br0'), Step('set_up', None, 'br0', up=True)]
    with pytest.raises(TaskFailed) as failed:
        run_netlink(netlink, False, 'links', [None], lambda views, nsids: (steps, []), report_links)
    assert failed.value.msg == '%s failed: File exists' % steps[fail_at].as_command()
    assert failed.value.fields == dict(changed=changed, commands=[step.as_command() for step in steps],
                                       applied=[step.as_command() for step in steps[:fail_at]])


# --- netns


@pytest.fixture
def namespaces(monkeypatch):
    """What /run/netns holds (name -> status) and the processes inside each namespace."""
    status, inside = {}, {}
    monkeypatch.setattr(named_namespaces, 'status', lambda name: status.get(name, 'absent'))
    monkeypatch.setattr(named_namespaces, 'processes_in',
                        lambda names: {name: dict(inside.get(name, {})) for name in names})
    return status, inside


def test_netns_spec_lists_every_bad_name():
    with pytest.raises(TaskFailed) as failed:
        netns_spec(dict(name=['ns1', 'a/b', 'ns1', 'with space'], state='present', loopback=True, kill_processes=False))
    assert failed.value.fields['problems'] == ["namespace name 'a/b' may not contain '/'",
                                               "namespace name 'with space' may not contain white space",
                                               "namespace 'ns1' is listed twice"]


def test_netns_creates_what_is_missing_and_brings_every_loopback_up(namespaces):
    status, unused = namespaces
    status.update(ns2='present', ns3='stale')
    netlink = FakeNetlink({'ns2': lo_of('ns2', False)},
                          {'ns1': lo_of('ns1', True), 'ns2': lo_of('ns2', True), 'ns3': lo_of('ns3', True)})
    spec = netns_spec(dict(name=['ns1', 'ns2', 'ns3'], state='present', loopback=True, kill_processes=False))
    result = converge_netns(FakeModule(), netlink, spec)
    assert netlink.applied == [[Step('create_netns', None, 'ns1', replace=False), Step('set_up', 'ns1', 'lo', up=True),
                                Step('set_up', 'ns2', 'lo', up=True),
                                Step('create_netns', None, 'ns3', replace=True), Step('set_up', 'ns3', 'lo', up=True)]]
    # Only lo matters: no address or route dumps.
    assert all(links_only for unused, links_only in netlink.read_calls)
    assert result['namespaces'] == [dict(name=name, path='/run/netns/%s' % name, loopback_up=True)
                                    for name in ('ns1', 'ns2', 'ns3')]
    assert result['diff']['before']['namespaces'] == [dict(name='ns2', path='/run/netns/ns2', loopback_up=False)]


def test_netns_with_foreign_processes_inside_is_not_deleted(namespaces):
    status, inside = namespaces
    status.update(ns1='present')
    inside.update(ns1={4242: 'sleep', 4343: 'nginx'})
    netlink = FakeNetlink({'ns1': lo_of('ns1', True)})
    spec = netns_spec(dict(name=['ns1'], state='absent', loopback=True, kill_processes=False))
    with pytest.raises(TaskFailed) as failed:
        converge_netns(FakeModule(), netlink, spec, spared=[4343])
    assert failed.value.fields['problems'] == ['namespace ns1 still has processes: 4242 (sleep); stop them first'
                                               ' or set kill_processes: true']
    assert netlink.applied == []


def test_netns_deletion_spares_the_lab_services_and_kills_the_rest_when_asked(namespaces):
    status, inside = namespaces
    status.update(ns1='present')
    inside.update(ns1={4242: 'sleep', 4343: 'nginx'})
    netlink = FakeNetlink({'ns1': lo_of('ns1', True)}, {})
    spec = netns_spec(dict(name=['ns1'], state='absent', loopback=True, kill_processes=True))
    result = converge_netns(FakeModule(), netlink, spec, spared=[4343])
    assert netlink.applied == [[Step('delete_netns', None, 'ns1', kill=[4242])]]
    assert result['commands'] == ['kill 4242; ip netns delete ns1'] and result['namespaces'] == []


# --- bridge


def test_bridge_spec_lists_every_bad_value():
    with pytest.raises(TaskFailed) as failed:
        bridge_spec(dict(bridges=[dict(name='br-with-a-long-name', netns=None, addresses=['10.0.0.0/24'], mtu=9,
                                       stp=None, up=None),
                                  dict(name='br0', netns='ns/1', addresses=None, mtu=None, stp=None, up=None)],
                         state='present'))
    assert failed.value.fields['problems'] == [
        "bridge 'br-with-a-long-name': interface name 'br-with-a-long-name' is longer than Linux allows (15 bytes)",
        "bridge 'br-with-a-long-name': mtu 9 is outside 68..65535",
        "bridge 'br-with-a-long-name': address '10.0.0.0/24' is the network address of 10.0.0.0/24",
        "bridge 'br0': namespace name 'ns/1' may not contain '/'",
    ]


def bridge_params(**item):
    return dict(bridges=[dict(dict(name='br0', netns=None, addresses=None, mtu=None, stp=None, up=None), **item)],
                state='present')


def test_bridge_is_created_addressed_and_set_up_then_read_back():
    netlink = FakeNetlink({None: HOST}, {None: BR0_UP})
    result = converge_bridges(FakeModule(), netlink, bridge_spec(bridge_params(addresses=['10.0.0.254/24'])))
    assert netlink.applied == [[Step('create_bridge', None, 'br0'),
                                Step('add_address', None, 'br0', address='10.0.0.254/24'),
                                Step('set_up', None, 'br0', up=True)]]
    assert result['bridges'] == [dict(name='br0', netns=None, mtu=1500, stp=False, up=True,
                                      addresses=['10.0.0.254/24'], ports=[])]


def test_bridge_in_a_namespace_that_does_not_exist_fails_a_real_run_but_not_a_check():
    spec = bridge_spec(bridge_params(netns='ns1'))
    with pytest.raises(TaskFailed, match='bridge br0: namespace ns1 does not exist'):
        converge_bridges(FakeModule(), FakeNetlink({None: HOST}), spec)
    result = converge_bridges(FakeModule(check_mode=True), FakeNetlink({None: HOST}), spec)
    assert result['changed'] is True and result['bridges'][0]['netns'] == 'ns1'


def test_a_link_of_another_kind_under_the_bridge_name_is_left_untouched():
    netlink = FakeNetlink({None: HOST})
    with pytest.raises(TaskFailed, match='bridge eth0: the host namespace already has a link eth0 of kind unknown'):
        converge_bridges(FakeModule(), netlink, bridge_spec(bridge_params(name='eth0')))
    assert netlink.applied == []


# --- veth


def pair_params(**pair):
    end = dict(netns=None, addresses=None, master=None, hairpin=None, gateway=None)
    base = dict(end, name='veth-ns1', peer=dict(end, name='eth0', netns='ns1', addresses=['10.0.0.1/24'],
                                                gateway='10.0.0.254'), mtu=None, up=None)
    return dict(pairs=[dict(base, **pair)], state='present')


HOST_END = Link('veth-ns1', 7, kind='veth', up=True, master='br0', peer_index=2, peer_nsid=0, hairpin=False)
NS1_END = Link('eth0', 2, kind='veth', up=True, addresses=['10.0.0.1/24'], peer_index=7, peer_nsid=5)
PAIRED = {None: NamespaceView(None, links=list(BR0_UP.links.values()) + [HOST_END]),
          'ns1': NamespaceView('ns1', links=[Link('lo', 1, up=True, mtu=65536), NS1_END],
                               default_routes={4: ('10.0.0.254', 'eth0')})}


def test_veth_spec_lists_every_bad_value():
    params = pair_params(master='veth-ns1', hairpin=True, gateway='10.0.0.254')
    params['pairs'][0]['peer'].update(gateway='192.0.2.1')
    with pytest.raises(TaskFailed) as failed:
        veth_spec(params)
    assert failed.value.fields['problems'] == [
        'veth veth-ns1: an interface cannot be its own master',
        "veth veth-ns1: gateway is only for an end inside a namespace; refusing to change the host's default route",
        'veth eth0 in namespace ns1: gateway 192.0.2.1 is not in the subnet of any address of its interface'
        ' (10.0.0.1/24)',
    ]


def test_a_pair_that_is_as_declared_is_left_alone_once_its_nsids_prove_the_peers():
    netlink = FakeNetlink(PAIRED, nsids={(None, 'ns1'): 0})
    result = converge_pairs(FakeModule(), netlink, veth_spec(pair_params(master='br0')))
    assert netlink.nsid_calls == [[(None, 'ns1')]]
    assert result['changed'] is False and netlink.applied == []
    assert result['pairs'][0]['peer']['gateway'] == '10.0.0.254'


def test_an_end_whose_peer_is_another_link_is_never_re_paired():
    # ns1 has another id as seen from the host: veth-ns1's peer lives in some other namespace.
    netlink = FakeNetlink(PAIRED, nsids={(None, 'ns1'): 3})
    with pytest.raises(TaskFailed, match='refusing to re-pair it'):
        converge_pairs(FakeModule(), netlink, veth_spec(pair_params(master='br0')))
    assert netlink.applied == []


def test_a_new_pair_is_created_plugged_addressed_and_routed():
    before = {None: BR0_UP, 'ns1': NamespaceView('ns1', links=[Link('lo', 1, up=True, mtu=65536)])}
    netlink = FakeNetlink(before, PAIRED, nsids={(None, 'ns1'): 0})
    result = converge_pairs(FakeModule(), netlink, veth_spec(pair_params(master='br0')))
    assert [step.as_command() for step in netlink.applied[0]] == [
        'ip link add veth-ns1 type veth peer name eth0 netns ns1',
        'ip link set veth-ns1 master br0',
        'ip link set veth-ns1 up',
        'ip -n ns1 address add 10.0.0.1/24 dev eth0',
        'ip -n ns1 link set eth0 up',
        'ip -n ns1 route replace default via 10.0.0.254 dev eth0',
    ]
    assert result['changed'] is True and result['diff']['before']['pairs'] == []
    assert result['pairs'][0]['master'] == 'br0'
    # The address is announced from its new interface, once the pair is up.
    assert [(netns, interface, frame[28:32]) for netns, interface, frame in netlink.announcements] == [
        ('ns1', 'eth0', bytes([10, 0, 0, 1]))]


def test_a_pair_that_needs_nothing_announces_nothing_and_check_mode_sends_nothing():
    before = {None: BR0_UP, 'ns1': NamespaceView('ns1', links=[Link('lo', 1, up=True, mtu=65536)])}
    netlink = FakeNetlink(before, nsids={(None, 'ns1'): 0})
    converge_pairs(FakeModule(check_mode=True), netlink, veth_spec(pair_params(master='br0')))
    netlink = FakeNetlink(PAIRED, nsids={(None, 'ns1'): 0})
    converge_pairs(FakeModule(), netlink, veth_spec(pair_params(master='br0')))
    assert netlink.announcements == []


# --- run_module with in_netlink: parse first, then pyroute2, then a socket


class Ended(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class EndingModule(FakeModule):
    def __init__(self, params):
        super().__init__()
        self.params = params

    def exit_json(self, **result):
        raise Ended(result)

    def fail_json(self, msg, **result):
        raise Ended(dict(result, msg=msg, failed=True))


@pytest.fixture
def opened(monkeypatch):
    """The Netlinks in_netlink opens, and the respawns it tries."""
    made, respawns = [], []

    def netlink():
        made.append(FakeNetlink({None: HOST}))
        return made[-1]

    monkeypatch.setattr(netlink_session, 'Netlink', netlink)
    monkeypatch.setattr(netlink_session, 'respawn_with', respawns.append)
    return made, respawns


def test_bad_arguments_fail_before_pyroute2_is_looked_for_or_a_socket_opened(opened, monkeypatch):
    monkeypatch.setattr(netlink_session, 'PYROUTE2_IMPORT_ERROR', 'ImportError: No module named pyroute2')
    module = EndingModule(dict(name=['a/b'], state='present', loopback=True, kill_processes=False))
    with pytest.raises(Ended) as ended:
        run_module(module, netns_spec, in_netlink(converge_netns))
    assert ended.value.result == dict(msg="namespace name 'a/b' may not contain '/'", failed=True,
                                      problems=["namespace name 'a/b' may not contain '/'"])
    assert opened == ([], [])


def test_without_pyroute2_the_module_respawns_then_names_the_interpreter(opened, monkeypatch):
    monkeypatch.setattr(netlink_session, 'PYROUTE2_IMPORT_ERROR', 'ImportError: No module named pyroute2')
    module = EndingModule(dict(name=['ns1'], state='present', loopback=True, kill_processes=False))
    with pytest.raises(Ended) as ended:
        run_module(module, netns_spec, in_netlink(converge_netns))
    made, respawns = opened
    assert respawns == ['pyroute2'] and made == []
    assert ended.value.result['msg'].startswith('the Python interpreter ')
    assert 'lacks pyroute2' in ended.value.result['msg']
    assert ended.value.result['exception'] == 'ImportError: No module named pyroute2'


def test_the_result_of_converge_ends_the_module(opened, monkeypatch):
    monkeypatch.setattr(netlink_session, 'PYROUTE2_IMPORT_ERROR', None)
    module = EndingModule(dict(bridges=None, name='br0', netns=None, addresses=None, mtu=None, stp=None, up=None,
                               state='absent'))
    with pytest.raises(Ended) as ended:
        run_module(module, bridge_spec, in_netlink(converge_bridges))
    made, unused = opened
    assert made[0].entered == 1
    assert ended.value.result == dict(changed=False, commands=[], diff=dict(before=dict(bridges=[]),
                                                                            after=dict(bridges=[])), bridges=[])
