# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The netns, bridge and veth modules through ansible-playbook, on real kernel state.

The topology is the second seed's: ns1 (10.0.0.1) and ns2 (10.0.0.2) on br0 (10.0.0.254/24),
default routes via the bridge. Every reachability claim is checked with ping; every
"unchanged" claim with ``ip -j`` before and after.
"""

from __future__ import annotations

import json

import pytest

from ansible_runs import TARGET_PYTHONS, run_tasks

pytestmark = pytest.mark.system

PAIRS = [
    {'name': 'veth1-br', 'master': 'br0',
     'peer': {'name': 'veth1', 'netns': 'ns1', 'addresses': ['10.0.0.1/24'], 'gateway': '10.0.0.254'}},
    {'name': 'veth2-br', 'master': 'br0',
     'peer': {'name': 'veth2', 'netns': 'ns2', 'addresses': ['10.0.0.2/24'], 'gateway': '10.0.0.254'}},
]


def seed_tasks(state='present'):
    tasks = [
        {'name': 'Namespaces', 'nslab.net.netns': {'name': ['ns1', 'ns2'], 'state': state}},
        {'name': 'Bridge', 'nslab.net.bridge': {'name': 'br0', 'addresses': ['10.0.0.254/24'], 'state': state}},
        {'name': 'Cables', 'nslab.net.veth': {'pairs': PAIRS, 'state': state}},
    ]
    return tasks if state == 'present' else tasks[::-1]


def ip_json(world, *args, netns=None):
    prefix = ['ip', '-n', netns] if netns else ['ip']
    out = world.run(prefix + ['-j'] + list(args)).stdout
    return json.loads(out) if out.strip() else []


# What the kernel changes by itself, a moment after a change: carrier, DAD of the IPv6
# link-local address it adds, route flags that follow carrier.
CARRIER_FLAGS = {'LOWER_UP', 'NO-CARRIER', 'M-DOWN'}
SETTLING_KEYS = {'operstate', 'tentative', 'valid_life_time', 'preferred_life_time'}


def settled(entries):
    """``ip -j`` link, address or route entries without what changes on its own."""
    result = []
    for entry in entries:
        if entry.get('dst') == 'fe80::/64':
            continue  # follows the link-local address, which the kernel manages
        entry = {k: v for k, v in entry.items() if k not in SETTLING_KEYS}
        if 'flags' in entry:
            entry['flags'] = [f for f in entry['flags'] if f not in CARRIER_FLAGS and f != 'linkdown']
        if 'addr_info' in entry:
            entry['addr_info'] = settled(a for a in entry['addr_info']
                                         if not (a['family'] == 'inet6' and a.get('scope') == 'link'))
        result.append(entry)
    return result


def kernel_state(world):
    """What the modules could have changed in the host node, comparable with ==."""
    namespaces = sorted(ns['name'] for ns in ip_json(world, 'netns', 'list'))
    state = {'netns': namespaces}
    for name in [None] + namespaces:
        state[name or 'host'] = [settled(ip_json(world, *what, netns=name))
                                 for what in (('addr',), ('route',), ('-6', 'route'))]
    return state


def pings(world, source, address):
    argv = ['ping', '-c1', '-W2', address]
    if source:
        argv = ['ip', 'netns', 'exec', source] + argv
    return world.run(argv, check=False).returncode == 0


def assert_seed_lab_works(world):
    assert pings(world, 'ns1', '10.0.0.2')
    assert pings(world, 'ns2', '10.0.0.1')
    assert pings(world, None, '10.0.0.1')
    assert pings(world, None, '10.0.0.2')
    assert pings(world, 'ns1', '10.0.0.254')
    # the default route via the bridge reaches the host's other addresses
    assert pings(world, 'ns1', '198.51.100.2')


def returned(result):
    return {key: result[key] for key in ('namespaces', 'bridges', 'pairs') if key in result}


@pytest.mark.parametrize('target', sorted(TARGET_PYTHONS))
def test_seed_topology_check_apply_reapply(world, target):
    python = TARGET_PYTHONS[target]
    empty = kernel_state(world)
    assert not pings(world, None, '10.0.0.1'), 'nothing should answer before the lab exists'

    predicted = run_tasks(world, seed_tasks(), python=python, check=True)
    assert [r['changed'] for r in predicted] == [True, True, True]
    assert not any(r.get('failed') for r in predicted)
    assert kernel_state(world) == empty, 'check mode changed the kernel'

    applied = run_tasks(world, seed_tasks(), python=python)
    assert [r['changed'] for r in applied] == [True, True, True]
    assert_seed_lab_works(world)
    # check mode predicted exactly what the real run did
    assert [returned(r) for r in predicted] == [returned(r) for r in applied]
    assert [r['diff'] for r in predicted] == [r['diff'] for r in applied]
    assert [r['commands'] for r in predicted] == [r['commands'] for r in applied]

    (br0,) = ip_json(world, 'addr', 'show', 'br0')
    assert [(a['local'], a['prefixlen']) for a in br0['addr_info'] if a['family'] == 'inet'] == [('10.0.0.254', 24)]
    (port,) = ip_json(world, 'link', 'show', 'veth1-br')
    assert port['master'] == 'br0'
    (route,) = ip_json(world, 'route', 'show', 'default', netns='ns1')
    assert route['gateway'] == '10.0.0.254' and route['dev'] == 'veth1'
    built = kernel_state(world)

    again = run_tasks(world, seed_tasks(), python=python)
    assert [r['changed'] for r in again] == [False, False, False]
    assert [r['commands'] for r in again] == [[], [], []]
    # the same objects, but br0 now shows the ports the veth task attached after it ran
    assert [returned(r) for r in again[::2]] == [returned(r) for r in applied[::2]]
    assert again[1]['bridges'][0]['ports'] == ['veth1-br', 'veth2-br']
    checked = run_tasks(world, seed_tasks(), python=python, check=True)
    assert [r['changed'] for r in checked] == [False, False, False]
    assert [returned(r) for r in checked] == [returned(r) for r in again]
    assert kernel_state(world) == built


@pytest.mark.parametrize('target', sorted(TARGET_PYTHONS))
def test_drift_is_repaired_and_reported(world, target):
    python = TARGET_PYTHONS[target]
    run_tasks(world, seed_tasks(), python=python)
    built = kernel_state(world)
    world.sh('ip -n ns1 address flush dev veth1; ip link set veth2-br down; ip link set veth1-br nomaster; '
             'ip address flush dev br0; ip -n ns2 link set lo down')
    assert not pings(world, 'ns1', '10.0.0.2')

    repaired = run_tasks(world, seed_tasks(), python=python)
    assert [r['changed'] for r in repaired] == [True, True, True]
    assert 'ip -n ns2 link set lo up' in repaired[0]['commands']
    assert 'ip address add 10.0.0.254/24 dev br0' in repaired[1]['commands']
    assert {'ip link set veth1-br master br0', 'ip link set veth2-br up',
            'ip -n ns1 address add 10.0.0.1/24 dev veth1',
            'ip -n ns1 route replace default via 10.0.0.254 dev veth1'} <= set(repaired[2]['commands'])
    assert_seed_lab_works(world)
    assert kernel_state(world) == built
    assert [r['changed'] for r in run_tasks(world, seed_tasks(), python=python)] == [False, False, False]


def test_state_absent_leaves_nothing(world):
    empty = kernel_state(world)
    run_tasks(world, seed_tasks())
    assert_seed_lab_works(world)
    predicted = run_tasks(world, seed_tasks('absent'), check=True)
    assert [r['changed'] for r in predicted] == [True, True, True]
    removed = run_tasks(world, seed_tasks('absent'))
    assert [r['changed'] for r in removed] == [True, True, True]
    # the veth task's prediction is exact; the later tasks' "before" still shows what the
    # check run did not remove (br0's ports, the namespaces' veths), their "after" is exact
    assert predicted[0]['diff'] == removed[0]['diff']
    assert [r['diff']['after'] for r in predicted] == [r['diff']['after'] for r in removed]
    assert kernel_state(world) == empty
    assert [r['changed'] for r in run_tasks(world, seed_tasks('absent'))] == [False, False, False]


def test_check_mode_on_an_empty_host_reports_every_later_task_without_failing(world):
    """A veth into a namespace and a bridge that earlier tasks of the same play would create."""
    empty = kernel_state(world)
    results = run_tasks(world, seed_tasks(), check=True)
    assert all(r['changed'] and not r.get('failed') for r in results)
    assert results[2]['commands'][0] == 'ip link add veth1-br type veth peer name veth1 netns ns1'
    assert kernel_state(world) == empty


BAD_TASKS = [
    ({'nslab.net.bridge': {'name': 'eth0'}}, 'kind veth'),
    ({'nslab.net.bridge': {'name': 'br0', 'addresses': ['10.0.0.254']}}, "'10.0.0.254' needs a prefix length"),
    ({'nslab.net.bridge': {'name': 'a-bridge-name-too-long'}}, "'a-bridge-name-too-long' is longer"),
    ({'nslab.net.netns': {'name': ['ok', 'bad/name']}}, "'bad/name' may not contain '/'"),
    ({'nslab.net.netns': {'name': ['ns9', 'ns9']}}, "'ns9' is listed twice"),
    ({'nslab.net.veth': {'name': 'v1', 'peer': {'name': 'e0', 'netns': 'nosuchns'}}}, 'namespace nosuchns does not exist'),
    ({'nslab.net.veth': {'name': 'v1', 'peer': {'name': 'e0', 'netns': 'ns1', 'addresses': ['10.0.0.1/24'],
                                                'gateway': '10.7.0.1'}}}, 'gateway 10.7.0.1 is not in the subnet'),
    ({'nslab.net.veth': {'name': 'v1', 'gateway': '198.51.100.1', 'peer': {'name': 'v2'}}},
     "refusing to change the host's default route"),
    ({'nslab.net.veth': {'name': 'veth1-br', 'peer': {'name': 'other'}}}, 'refusing to re-pair'),
    ({'nslab.net.veth': {'name': 'v1', 'master': 'eth0', 'peer': {'name': 'v2'}}}, 'master eth0 is a veth'),
    ({'nslab.net.bridge': {'bridges': [{'name': 'b1', 'mtu': 20}, {'name': 'b2', 'addresses': ['10.0.0.0/24']}]}},
     'mtu 20 is outside 68..65535; bridge \'b2\': address \'10.0.0.0/24\' is the network address'),
]


def test_bad_input_fails_naming_the_value_and_changes_nothing(world):
    run_tasks(world, seed_tasks())
    before = kernel_state(world)
    tasks = [dict(task, ignore_errors=True) for task, unused in BAD_TASKS]
    results = run_tasks(world, tasks)
    for (task, message), result in zip(BAD_TASKS, results):
        assert result.get('failed'), task
        assert not result.get('changed'), task
        assert message in result['msg'], (task, result['msg'])
    assert kernel_state(world) == before
    # the same tasks in check mode fail the same way (all but the missing namespace, which
    # check mode takes as one an earlier task would create)
    checked = run_tasks(world, tasks, check=True)
    expected = ['does not exist' not in message for unused, message in BAD_TASKS]
    assert [bool(r.get('failed')) for r in checked] == expected


def test_netns_with_processes_is_kept_unless_told_to_kill_them(world):
    run_tasks(world, [{'nslab.net.netns': {'name': ['busy']}}])
    sleeper = world.popen(['ip', 'netns', 'exec', 'busy', 'sleep', '300'])
    try:
        pid = None
        for unused in range(50):
            pids = world.run(['ip', 'netns', 'pids', 'busy']).stdout.split()
            if pids:
                pid = pids[0]
                break
            world.run(['sleep', '0.1'])
        assert pid, 'the test process never appeared in the namespace'
        (refused,) = run_tasks(world, [{'nslab.net.netns': {'name': ['busy'], 'state': 'absent'},
                                        'ignore_errors': True}])
        assert refused['failed'] and '%s (sleep)' % pid in refused['msg'] and 'kill_processes' in refused['msg']
        assert [ns['name'] for ns in ip_json(world, 'netns', 'list')] == ['busy']
        kill_task = {'nslab.net.netns': {'name': ['busy'], 'state': 'absent', 'kill_processes': True}}
        (killed,) = run_tasks(world, [kill_task])
        assert killed['changed'] and killed['commands'] == ['kill %s; ip netns delete busy' % pid]
        assert ip_json(world, 'netns', 'list') == []
        sleeper.wait(timeout=10)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait(timeout=10)


def test_netns_names_match_exactly_and_stale_entries_are_replaced(world):
    run_tasks(world, [{'nslab.net.netns': {'name': ['ns10']}}])
    (created,) = run_tasks(world, [{'nslab.net.netns': {'name': ['ns1']}}])
    assert created['changed'] and created['commands'] == ['ip netns add ns1', 'ip -n ns1 link set lo up']
    world.run(['touch', '/run/netns/stale'])
    (repaired,) = run_tasks(world, [{'nslab.net.netns': {'name': ['stale']}}])
    assert repaired['changed']
    assert pings(world, 'stale', '127.0.0.1'), 'the replaced namespace is live with loopback up'
    assert sorted(ns['name'] for ns in ip_json(world, 'netns', 'list')) == ['ns1', 'ns10', 'stale']


def test_bridge_mtu_stp_and_down_and_pairs_between_namespaces(world):
    tasks = [
        {'nslab.net.netns': {'name': ['left', 'right']}},
        {'nslab.net.bridge': {'bridges': [{'name': 'brx', 'mtu': 1400, 'stp': True, 'up': False},
                                          {'name': 'bry', 'netns': 'left', 'addresses': ['192.0.2.1/24']}]}},
        {'nslab.net.veth': {'name': 'cable-l', 'netns': 'left', 'addresses': ['203.0.113.101/30'], 'mtu': 1300,
                            'peer': {'name': 'cable-r', 'netns': 'right', 'addresses': ['203.0.113.102/30']}}},
    ]
    first = run_tasks(world, tasks)
    assert all(r['changed'] for r in first)
    (brx,) = ip_json(world, '-d', 'link', 'show', 'brx')
    assert brx['mtu'] == 1400 and brx['linkinfo']['info_data']['stp_state'] == 1 and 'UP' not in brx['flags']
    (bry,) = ip_json(world, 'addr', 'show', 'bry', netns='left')
    assert bry['addr_info'][0]['local'] == '192.0.2.1'
    (cable,) = ip_json(world, 'link', 'show', 'cable-r', netns='right')
    assert cable['mtu'] == 1300
    assert pings(world, 'left', '203.0.113.102')
    assert first[2]['pairs'][0]['peer']['netns'] == 'right'
    assert not any(r['changed'] for r in run_tasks(world, tasks))
