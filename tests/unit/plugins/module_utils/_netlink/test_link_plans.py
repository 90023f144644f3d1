# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning for bridges and veth pairs, on hand-made views: no kernel, no root."""

from __future__ import annotations


import pytest

from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import (
    parse_bridges, plan_bridges, report_bridges)
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView, Step, simulate_links
from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import (
    nsid_keys, parse_pairs, plan_pairs, report_pairs)

NSID_NS1 = 7  # the id ns1 has in the host namespace, as the kernel would report it


def bridge(name='br0', **kw):
    return dict(dict(name=name, netns=None, addresses=None, mtu=None, stp=None, up=None), **kw)


def end(name, netns=None, **kw):
    return dict(dict(name=name, netns=netns, addresses=None, master=None, gateway=None), **kw)


def pair(a, b, **kw):
    return dict(a, peer=b, mtu=kw.get('mtu'), up=kw.get('up'))


def seed_pairs():
    """The second seed: ns1 and ns2 on br0, default routes via the bridge."""
    return parse_pairs([
        pair(end('veth1-br', master='br0'), end('veth1', 'ns1', addresses=['10.0.0.1/24'], gateway='10.0.0.254')),
        pair(end('veth2-br', master='br0'), end('veth2', 'ns2', addresses=['10.0.0.2/24'], gateway='10.0.0.254')),
    ])


def empty_views(*names):
    views = {None: NamespaceView(None, links=[Link('lo', index=1, up=True, mtu=65536)])}
    for name in names:
        views[name] = NamespaceView(name, links=[Link('lo', index=1, up=True, mtu=65536)])
    return views


# --- bridge -------------------------------------------------------------------------------

def test_bridge_from_nothing_is_created_addressed_and_up():
    specs = parse_bridges([bridge(addresses=['10.0.0.254/24'])])
    steps, problems = plan_bridges(specs, 'present', empty_views(), check_mode=False)
    assert problems == []
    assert [s.as_command() for s in steps] == [
        'ip link add br0 type bridge', 'ip address add 10.0.0.254/24 dev br0', 'ip link set br0 up']
    after = report_bridges(specs, simulate_links(empty_views(), steps))
    assert after == [dict(name='br0', netns=None, mtu=1500, stp=False, up=True, addresses=['10.0.0.254/24'],
                          ports=[])]


def test_bridge_in_the_wanted_state_needs_no_step():
    views = empty_views()
    views[None].links['br0'] = Link('br0', index=5, kind='bridge', up=True, addresses=['10.0.0.254/24'], stp=False)
    specs = parse_bridges([bridge(addresses=['10.0.0.254/24'])])
    assert plan_bridges(specs, 'present', views, check_mode=False) == ([], [])


def test_bridge_drift_is_repaired_and_extra_addresses_removed():
    views = empty_views()
    views[None].links['br0'] = Link('br0', index=5, kind='bridge', up=False, addresses=['10.9.9.9/24'], stp=True,
                                    mtu=1400)
    specs = parse_bridges([bridge(addresses=['10.0.0.254/24'], mtu=1500)])
    steps = plan_bridges(specs, 'present', views, check_mode=False)[0]
    assert [s.op for s in steps] == ['set_mtu', 'set_stp', 'delete_address', 'add_address', 'set_up']


def test_bridge_addresses_omitted_are_left_alone():
    views = empty_views()
    views[None].links['br0'] = Link('br0', index=5, kind='bridge', up=True, addresses=['10.9.9.9/24'], stp=False)
    assert plan_bridges(parse_bridges([bridge()]), 'present', views, check_mode=False) == ([], [])


def test_a_non_bridge_link_of_that_name_is_an_error_and_untouched():
    views = empty_views()
    views[None].links['br0'] = Link('br0', index=5, kind='veth')
    for state in ('present', 'absent'):
        steps, problems = plan_bridges(parse_bridges([bridge()]), state, views, check_mode=False)
        assert steps == [] and 'kind veth' in problems[0] and 'untouched' in problems[0]


def test_bridge_absent_deletes_only_an_existing_bridge():
    views = empty_views()
    assert plan_bridges(parse_bridges([bridge()]), 'absent', views, False) == ([], [])
    views[None].links['br0'] = Link('br0', index=5, kind='bridge')
    assert plan_bridges(parse_bridges([bridge()]), 'absent', views, False) == ([Step('delete_link', None, 'br0')], [])


def test_missing_namespace_fails_a_real_run_but_is_planned_in_check_mode():
    views = {'lab': NamespaceView('lab', exists=False)}
    specs = parse_bridges([bridge(netns='lab')])
    steps, problems = plan_bridges(specs, 'present', views, check_mode=False)
    assert steps == [] and 'namespace lab does not exist' in problems[0]
    steps, problems = plan_bridges(specs, 'present', views, check_mode=True)
    assert problems == [] and [s.op for s in steps] == ['create_bridge', 'set_up']


@pytest.mark.parametrize('item, message', [
    (bridge(name='a-name-that-is-too-long'), 'longer than Linux allows'),
    (bridge(addresses=['10.0.0.254']), 'needs a prefix length'),
    (bridge(addresses=['10.0.0.1/24', '10.0.0.1/24']), 'listed twice'),
    (bridge(mtu=10), 'mtu 10 is outside'),
    (bridge(netns='a/b'), "may not contain '/'"),
])
def test_bad_bridge_input_is_refused_naming_the_value(item, message):
    with pytest.raises(InvalidInput) as err:
        parse_bridges([item])
    assert message in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as err:
        parse_bridges([bridge(mtu=10), bridge(name='b1', addresses=['x/1']), bridge(name='b1')])
    assert len(err.value.problems) == 3


# --- veth ---------------------------------------------------------------------------------

def test_seed_pairs_from_nothing():
    pairs = seed_pairs()
    views = empty_views('ns1', 'ns2')
    views[None].links['br0'] = Link('br0', index=3, kind='bridge', up=True)
    steps, problems = plan_pairs(pairs, 'present', views, {}, check_mode=False)
    assert problems == []
    assert [s.as_command() for s in steps[:6]] == [
        'ip link add veth1-br type veth peer name veth1 netns ns1',
        'ip link set veth1-br master br0',
        'ip link set veth1-br up',
        'ip -n ns1 address add 10.0.0.1/24 dev veth1',
        'ip -n ns1 link set veth1 up',
        'ip -n ns1 route replace default via 10.0.0.254 dev veth1',
    ]
    after = report_pairs(pairs, simulate_links(views, steps))
    assert after[0]['master'] == 'br0' and after[0]['peer']['gateway'] == '10.0.0.254'
    assert nsid_keys(pairs) == [(None, 'ns1'), (None, 'ns2')]


def existing_pair_views(**changes):
    views = empty_views('ns1')
    views[None].links['br0'] = Link('br0', index=3, kind='bridge', up=True)
    host = dict(index=10, kind='veth', up=True, master='br0', peer_index=2, peer_nsid=NSID_NS1)
    inner = dict(index=2, kind='veth', up=True, addresses=['10.0.0.1/24'], peer_index=10, peer_nsid=0)
    host.update(changes.get('host', {}))
    inner.update(changes.get('inner', {}))
    views[None].links['veth1-br'] = Link('veth1-br', **host)
    views['ns1'].links['veth1'] = Link('veth1', **inner)
    if changes.get('route', True):
        views['ns1'].default_routes[4] = ('10.0.0.254', 'veth1')
    return views


def one_pair():
    return parse_pairs([pair(end('veth1-br', master='br0'),
                             end('veth1', 'ns1', addresses=['10.0.0.1/24'], gateway='10.0.0.254'))])


def test_a_pair_in_the_wanted_state_needs_no_step():
    assert plan_pairs(one_pair(), 'present', existing_pair_views(), {(None, 'ns1'): NSID_NS1}, False) == ([], [])


@pytest.mark.parametrize('changes, ops', [
    (dict(host=dict(master=None)), ['set_master']),
    (dict(inner=dict(addresses=[])), ['add_address']),
    (dict(inner=dict(up=False), route=False), ['set_up', 'replace_default_route']),
    (dict(route=False), ['replace_default_route']),
    # Deleting an address may take the default route along (the kernel flushes routes through a
    # gateway no address reaches any more), so the route is set again after it.
    (dict(inner=dict(addresses=['10.0.0.1/24', '10.0.0.99/24'])), ['delete_address', 'replace_default_route']),
    (dict(inner=dict(addresses=['10.0.0.12/24'])), ['delete_address', 'add_address', 'replace_default_route']),
])
def test_drift_is_repaired(changes, ops):
    steps, problems = plan_pairs(one_pair(), 'present', existing_pair_views(**changes), {(None, 'ns1'): NSID_NS1}, False)
    assert problems == [] and [s.op for s in steps] == ops


def test_an_end_with_another_peer_is_never_re_paired():
    views = existing_pair_views(host=dict(peer_index=99))
    steps, problems = plan_pairs(one_pair(), 'present', views, {(None, 'ns1'): NSID_NS1}, False)
    assert steps == [] and 'refusing to re-pair' in problems[0]
    # the same index in another namespace is another interface too
    steps, problems = plan_pairs(one_pair(), 'present', existing_pair_views(), {(None, 'ns1'): 3}, False)
    assert steps == [] and 'refusing to re-pair' in problems[0]
    steps, problems = plan_pairs(one_pair(), 'absent', views, {(None, 'ns1'): NSID_NS1}, False)
    assert steps == [] and 'not deleting another pair' in problems[0]


def test_only_one_end_existing_is_a_foreign_pair():
    views = existing_pair_views()
    del views['ns1'].links['veth1']
    steps, problems = plan_pairs(one_pair(), 'present', views, {(None, 'ns1'): NSID_NS1}, False)
    assert steps == [] and 'refusing to re-pair' in problems[0]


def test_a_link_of_another_kind_is_untouched():
    views = existing_pair_views()
    views[None].links['veth1-br'] = Link('veth1-br', index=10, kind='bridge')
    steps, problems = plan_pairs(one_pair(), 'present', views, {}, False)
    assert steps == [] and 'kind bridge' in problems[0]


def test_pair_absent_deletes_one_end_and_knows_the_peer_goes_too():
    views = existing_pair_views()
    steps, problems = plan_pairs(one_pair(), 'absent', views, {(None, 'ns1'): NSID_NS1}, False)
    assert problems == [] and steps == [Step('delete_link', None, 'veth1-br', peer=('ns1', 'veth1'))]
    after = simulate_links(views, steps)
    assert 'veth1' not in after['ns1'].links and after['ns1'].default_routes == {}
    assert report_pairs(one_pair(), after) == []


def test_master_must_be_a_bridge_and_exist_in_a_real_run():
    views = empty_views('ns1')
    steps, problems = plan_pairs(one_pair(), 'present', views, {}, check_mode=False)
    assert 'master bridge br0 does not exist' in problems[0]
    steps, problems = plan_pairs(one_pair(), 'present', views, {}, check_mode=True)
    assert problems == [] and steps[0].op == 'create_veth'
    views[None].links['br0'] = Link('br0', index=3, kind='veth')
    problems = plan_pairs(one_pair(), 'present', views, {}, check_mode=True)[1]
    assert 'not a bridge' in problems[0]


def test_pairs_into_namespaces_an_earlier_task_creates_are_planned_in_check_mode():
    views = empty_views()
    views[None].links['br0'] = Link('br0', index=3, kind='bridge', up=True)
    views['ns1'] = NamespaceView('ns1', exists=False)
    views['ns2'] = NamespaceView('ns2', exists=False)
    steps, problems = plan_pairs(seed_pairs(), 'present', views, {}, check_mode=True)
    assert problems == [] and len(steps) == 12
    problems = plan_pairs(seed_pairs(), 'present', views, {}, check_mode=False)[1]
    assert 'namespace ns1 does not exist' in problems[0]


@pytest.mark.parametrize('items, message', [
    ([pair(end('v1'), end('v2', gateway='10.0.0.254'))], "refusing to change the host's default route"),
    ([pair(end('v1'), end('v2', 'ns1', addresses=['10.0.0.1/24'], gateway='10.1.0.254'))], 'not in the subnet'),
    ([pair(end('v1'), end('v1'))], 'named more than once'),
    ([pair(end('v1'), end('e0', 'ns1')), pair(end('v2'), end('e0', 'ns1'))], 'named more than once'),
    ([pair(end('v1'), end('e0', 'ns1', gateway='10.0.0.1')), pair(end('v2'), end('e1', 'ns1', gateway='10.0.0.2'))],
     'two IPv4 default gateways'),
    ([pair(end('v1'), end('e0', 'ns1', addresses=['10.0.0.1/24'])),
      pair(end('v2'), end('e1', 'ns1', addresses=['10.0.0.1/24']))], 'more than one end'),
    ([pair(end('v1', master='v1'), end('v2'))], 'its own master'),
    ([pair(end('v1'), end('v2', 'ns1', gateway='10.0.0.1'), up=False)], 'needs the link up'),
    ([pair(end('v1'), end('averyveryverylongname'))], 'longer than Linux allows'),
    ([pair(end('v1'), end('v2'), mtu=70000)], 'mtu 70000'),
])
def test_bad_pair_input_is_refused_naming_the_value(items, message):
    with pytest.raises(InvalidInput) as err:
        parse_pairs(items)
    assert message in str(err.value)


def test_same_address_in_two_namespaces_is_fine():
    parse_pairs([pair(end('v1'), end('e0', 'ns1', addresses=['10.0.0.1/24'])),
                 pair(end('v2'), end('e0', 'ns2', addresses=['10.0.0.1/24']))])


# --- the plan and its simulation agree ------------------------------------------------------

@pytest.mark.parametrize('changes', [
    dict(host=dict(master=None, up=False)),
    dict(inner=dict(addresses=['10.0.0.7/24'], up=False), route=False),
    dict(host=dict(master=None), route=False),
])
def test_replanning_after_the_simulated_repair_finds_nothing_to_do(changes):
    views = existing_pair_views(**changes)
    nsids = {(None, 'ns1'): NSID_NS1}
    steps, problems = plan_pairs(one_pair(), 'present', views, nsids, False)
    assert problems == [] and steps
    assert plan_pairs(one_pair(), 'present', simulate_links(views, steps), nsids, False) == ([], [])


def test_replanning_a_simulated_bridge_finds_nothing_to_do():
    views = empty_views()
    specs = parse_bridges([bridge(addresses=['10.0.0.254/24'], mtu=9000, stp=True)])
    after = simulate_links(views, plan_bridges(specs, 'present', views, False)[0])
    assert plan_bridges(specs, 'present', after, False) == ([], [])
