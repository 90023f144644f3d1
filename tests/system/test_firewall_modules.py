# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nat_masquerade and port_publish through ansible-playbook, with real traffic, on both backends.

Every test runs once with the sandbox's ``iptables`` being iptables-nft and once with it
being iptables-legacy, and the modules detect which. Each "cannot reach" check has a
positive control: the same target reached from where it should be, so a missing lab
cannot make a check pass.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from ansible_runs import TARGET_PYTHONS, run_tasks
from firewall_lab import (
    http_get, lab_tasks, start_http, start_udp, stop, udp_ask, wait_until)
from nslab_sandbox import HOST_ADDRESS, INTERNET_ADDRESS, OTHER_ADDRESS, World
from nslab_sandbox.docker_host import docker_lines, make_docker_like
from nslab_sandbox.iptables_churn import churn_command, churn_lines, expected_churn_lines
from nslab_sandbox.iptables_flavour import iptables_save, ruleset_lines

pytestmark = pytest.mark.system

FLAVOURS = ('nft', 'legacy')
GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden')
HOST_URL = 'http://%s:8000/' % HOST_ADDRESS
# Rules of somebody else, present before the lab and expected untouched after it.
USER_RULES = [
    ['iptables', '-A', 'INPUT', '-s', '192.0.2.1/32', '-m', 'comment', '--comment', 'user', '-j', 'ACCEPT'],
    ['iptables', '-A', 'FORWARD', '-s', '192.0.2.2/32', '-j', 'ACCEPT'],
    ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '192.0.2.0/24', '-j', 'RETURN'],
]


@pytest.fixture(params=FLAVOURS)
def fw_world(request):
    """A world whose ``iptables`` is the flavour under test, with some rules of a user."""
    with World(iptables=request.param) as world:
        for argv in USER_RULES:
            world.run(argv)
        yield world


def succeeded(results):
    failed = [r for r in results if r.get('failed')]
    assert not failed, failed[0].get('msg')
    return results


def other_routes_lab_via_host(world):
    """The neighbour that routes the lab subnet via the host, as an attacker would."""
    world.run(['ip', 'route', 'add', '10.0.0.0/24', 'via', HOST_ADDRESS], node='other')


def sysctl(world, name):
    return world.run(['cat', '/proc/sys/' + name.replace('.', '/')]).stdout.strip()


def test_lab_answers_everywhere_it_promises(fw_world):
    world = fw_world
    results = succeeded(run_tasks(world, lab_tasks()))
    assert all(r['changed'] for r in results)
    assert {r['backend'] for r in results[3:]} == {world.iptables}
    servers = [start_http(world, 'netns:ns1', '10.0.0.1', 8000),
               start_udp(world, 'netns:ns2', '10.0.0.2', 53, '/run/udp53.log')]
    try:
        # The host itself, on loopback and on its own address.
        assert http_get(world, 'host', 'http://127.0.0.1:8000/') == '10.0.0.254'
        assert http_get(world, 'host', HOST_URL) == HOST_ADDRESS
        # Another machine, which keeps its own address (no masquerade of outside clients).
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS
        # Hairpin: a sibling, and the destination itself, via the host's address.
        assert http_get(world, 'netns:ns2', HOST_URL) == '10.0.0.254'
        assert http_get(world, 'netns:ns1', HOST_URL) == '10.0.0.254'
        # UDP, from the host's loopback and from the other machine.
        assert udp_ask(world, 'host', '127.0.0.1', 5353) == '10.0.0.254'
        assert udp_ask(world, 'other', HOST_ADDRESS, 5353) == OTHER_ADDRESS
        # Outbound: the internet sees the host's uplink address.
        assert http_get(world, 'netns:ns2', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS
        assert sysctl(world, 'net.ipv4.ip_forward') == '1'
        assert sysctl(world, 'net.ipv4.conf.br0.route_localnet') == '1'
    finally:
        stop(*servers)


def test_neighbour_routing_the_subnet_reaches_only_published_ports(fw_world):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks()))
    other_routes_lab_via_host(world)
    servers = [start_http(world, 'netns:ns1', '10.0.0.1', 8000),
               start_http(world, 'netns:ns1', '10.0.0.1', 9000)]
    try:
        # Positive controls: the unpublished server runs and is reachable inside the lab,
        # and the neighbour does reach the lab through the published port.
        assert http_get(world, 'netns:ns2', 'http://10.0.0.1:9000/') == '10.0.0.2'
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS
        assert world.run(['ping', '-c1', '-W2', '10.0.0.254'], node='other', check=False).returncode == 0
        # Routed straight at the namespace: neither the unpublished port nor the published
        # one (only what comes through the host's published port may enter).
        assert http_get(world, 'other', 'http://10.0.0.1:9000/', timeout=2) is None
        assert http_get(world, 'other', 'http://10.0.0.1:8000/', timeout=2) is None
    finally:
        stop(*servers)


def _forge_loopback_route(world, netns):
    """Make ``netns`` send 127.0.0.1 to its gateway, as a hostile container can."""
    world.sh('ip addr flush dev lo && ip route add 127.0.0.0/8 via 10.0.0.254 dev veth1'
             ' && sysctl -qw net.ipv4.conf.veth1.route_localnet=1 net.ipv4.conf.all.route_localnet=1',
             node='netns:%s' % netns)


def test_route_localnet_does_not_expose_host_loopback_services(fw_world):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks()))
    log = '/run/udp7777.log'
    server = start_udp(world, 'host', '127.0.0.1', 7777, log)
    try:
        _forge_loopback_route(world, 'ns1')
        assert udp_ask(world, 'netns:ns1', '127.0.0.1', 7777, timeout=1) is None
        # Positive control: without the guard rule the same datagram gets through, so the
        # check above is about the guard and not about a broken probe.
        guard = [line for line in iptables_save(world).splitlines() if line.startswith('-A NSLAB-INPUT ')]
        assert len(guard) == 1
        world.sh('iptables ' + guard[0].replace('-A ', '-D ', 1))
        assert udp_ask(world, 'netns:ns1', '127.0.0.1', 7777) == '10.0.0.1'
    finally:
        stop(server)


def test_loopback_only_publish_is_not_reachable_from_other_machines(fw_world):
    world = fw_world
    publish = [{'bridge': 'br0', 'destination': '10.0.0.1', 'ports': ['127.0.0.1:8080:8000', '8000:8000']}]
    succeeded(run_tasks(world, lab_tasks(publish=publish)))
    server = start_http(world, 'netns:ns1', '10.0.0.1', 8000)
    try:
        assert http_get(world, 'host', 'http://127.0.0.1:8080/') == '10.0.0.254'
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS  # positive control
        assert http_get(world, 'other', 'http://%s:8080/' % HOST_ADDRESS, timeout=2) is None
        assert http_get(world, 'host', 'http://%s:8080/' % HOST_ADDRESS, timeout=2) is None
        # A neighbour that sends to 127.0.0.1 on the host's link does not get in either.
        world.sh('ip route add 127.0.0.2/32 via %s' % HOST_ADDRESS, node='other')
        assert http_get(world, 'other', 'http://127.0.0.2:8080/', timeout=2) is None
    finally:
        stop(server)


def test_icc_false_separates_namespaces_but_keeps_their_way_out(fw_world):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks(masquerade={'icc': False})))
    assert sysctl(world, 'net.bridge.bridge-nf-call-iptables') == '1'
    assert world.run(['ping', '-c1', '-W2', '10.0.0.254'], node='netns:ns1', check=False).returncode == 0
    assert http_get(world, 'netns:ns1', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS
    assert world.run(['ping', '-c1', '-W2', '10.0.0.2'], node='netns:ns1', check=False).returncode != 0
    succeeded(run_tasks(world, lab_tasks(masquerade={'icc': True})[3:]))
    assert world.run(['ping', '-c1', '-W2', '10.0.0.2'], node='netns:ns1', check=False).returncode == 0


def test_rerun_check_mode_and_exact_teardown(fw_world):
    world = fw_world
    baseline = iptables_save(world)
    forward = sysctl(world, 'net.ipv4.ip_forward')
    # A check run on the empty host changes nothing and predicts changes.
    predicted = succeeded(run_tasks(world, lab_tasks(), check=True))
    assert all(r['changed'] for r in predicted)
    assert iptables_save(world) == baseline
    first = succeeded(run_tasks(world, lab_tasks()))
    # The prediction is what the real run did: exactly for the first firewall task; the
    # second one's rules, but for the hairpin rule, which needs the bridge's subnet and the
    # check run had no bridge (it says so).
    assert predicted[3]['commands'] == first[3]['commands'] and predicted[3]['rules'] == first[3]['rules']
    hairpin = [rule for rule in first[4]['rules'] if '--ctstate DNAT -m comment' in rule and 'MASQUERADE' in rule]
    assert len(hairpin) == 1
    assert predicted[4]['rules'] == [rule for rule in first[4]['rules'] if rule not in hairpin]
    assert any('hairpin' in warning for warning in predicted[4]['warnings'])
    built = iptables_save(world)
    again = succeeded(run_tasks(world, lab_tasks()))
    assert [r['changed'] for r in again] == [False] * len(again)
    checked = succeeded(run_tasks(world, lab_tasks(), check=True))
    assert [r['changed'] for r in checked] == [False] * len(checked)
    assert iptables_save(world) == built
    down = succeeded(run_tasks(world, lab_tasks(state='absent')))
    assert down[0]['changed'] and down[1]['changed']
    assert down[0]['diff']['after']['rules'] == [] and down[0]['diff']['before']['rules']
    assert iptables_save(world) == baseline
    assert sysctl(world, 'net.ipv4.ip_forward') == forward  # put back by the last owner
    again = succeeded(run_tasks(world, lab_tasks(state='absent')))
    assert not any(r['changed'] for r in again)


LEDGER = '/run/nslab/sysctls.json'
FORWARD = 'net.ipv4.ip_forward'
LOCALNET = 'net.ipv4.conf.br0.route_localnet'
NAT_ABSENT = {'nslab.net.nat_masquerade': {'bridge': 'br0', 'state': 'absent'}}
PUBLISH_ABSENT = {'nslab.net.port_publish': {'bridge': 'br0', 'state': 'absent'}}


def ledger(world):
    """The world's ledger of kernel settings (its /run is the world's own), or None."""
    text = world.run(['cat', LEDGER], check=False).stdout
    return json.loads(text) if text else None


def sysctl_commands(result):
    return [command for command in result['commands'] if command.startswith('sysctl ')]


def test_settings_go_back_when_the_last_owner_goes(fw_world):
    world = fw_world
    world.run(['sysctl', '-w', FORWARD + '=0'])
    built = succeeded(run_tasks(world, lab_tasks()))
    nat, publish = built[3], built[4]
    assert sysctl(world, FORWARD) == '1' and sysctl(world, LOCALNET) == '1'
    assert sysctl_commands(nat) == ['sysctl -w %s=1' % FORWARD]
    assert nat['diff']['before']['sysctls'] == {FORWARD: '0'} and nat['diff']['after']['sysctls'] == {FORWARD: '1'}
    assert sysctl_commands(publish) == ['sysctl -w %s=1' % LOCALNET]  # forwarding is on already
    assert ledger(world) == {
        FORWARD: {'before': '0', 'set': '1', 'owners': ['nslab:masquerade:br0', 'nslab:publish:br0']},
        LOCALNET: {'before': '0', 'set': '1', 'owners': ['nslab:publish:br0']}}
    modes = world.run(['stat', '-c', '%a %U', '/run/nslab', LEDGER]).stdout.split('\n')
    assert modes[:2] == ['755 root', '644 root']

    # The published ports go: route_localnet goes back, forwarding stays for the NAT.
    first = succeeded(run_tasks(world, [PUBLISH_ABSENT]))[0]
    assert first['changed'] and sysctl_commands(first) == ['sysctl -w %s=0' % LOCALNET]
    assert first['diff']['after']['sysctls'] == {LOCALNET: '0'}
    assert sysctl(world, FORWARD) == '1' and sysctl(world, LOCALNET) == '0'
    assert list(ledger(world)) == [FORWARD]
    recorded = world.run(['cat', LEDGER]).stdout

    # A check run of the last owner's removal predicts putting forwarding back, and does nothing.
    predicted = succeeded(run_tasks(world, [NAT_ABSENT], check=True))[0]
    assert predicted['changed'] and sysctl_commands(predicted) == ['sysctl -w %s=0' % FORWARD]
    assert predicted['sysctls'] == {FORWARD: '0'}
    assert predicted['diff']['before']['sysctls'] == {FORWARD: '1'}
    assert sysctl(world, FORWARD) == '1' and world.run(['cat', LEDGER]).stdout == recorded

    last = succeeded(run_tasks(world, [NAT_ABSENT]))[0]
    assert sysctl_commands(last) == sysctl_commands(predicted) and last['sysctls'] == predicted['sysctls']
    assert last['diff'] == predicted['diff']
    assert sysctl(world, FORWARD) == '0'
    assert world.run(['test', '-e', '/run/nslab'], check=False).returncode != 0  # no trace left
    again = succeeded(run_tasks(world, [PUBLISH_ABSENT, NAT_ABSENT]))
    assert not any(r['changed'] for r in again)


def test_forwarding_the_host_had_on_stays_on(fw_world):
    world = fw_world
    world.run(['sysctl', '-w', FORWARD + '=1'])
    built = succeeded(run_tasks(world, lab_tasks()))
    assert sysctl_commands(built[3]) == [] and built[3]['sysctls'] == {FORWARD: '1'}
    assert FORWARD not in ledger(world)  # not ours
    down = succeeded(run_tasks(world, lab_tasks(state='absent')))
    assert sysctl_commands(down[0]) == ['sysctl -w %s=0' % LOCALNET] and sysctl_commands(down[1]) == []
    assert sysctl(world, FORWARD) == '1'
    assert ledger(world) is None


def test_an_owner_of_a_deleted_bridge_is_dropped_and_the_rest_put_back(fw_world):
    world = fw_world
    world.run(['sysctl', '-w', FORWARD + '=0'])
    succeeded(run_tasks(world, lab_tasks()))
    assert sorted(ledger(world)) == [LOCALNET, FORWARD]
    world.run(['ip', 'link', 'del', 'br0'])
    down = succeeded(run_tasks(world, [PUBLISH_ABSENT, NAT_ABSENT]))
    assert sysctl_commands(down[0]) == [] and sysctl_commands(down[1]) == ['sysctl -w %s=0' % FORWARD]
    assert sysctl(world, FORWARD) == '0' and ledger(world) is None


def test_two_owners_at_once_keep_one_record(fw_world):
    """Both modules' playbooks at the same time, twice: the ledger serializes them."""
    world = fw_world
    world.run(['sysctl', '-w', FORWARD + '=0'])
    lab = lab_tasks()
    succeeded(run_tasks(world, lab[:3]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for unused in range(2):
            up = [pool.submit(run_tasks, world, [task]) for task in lab[3:]]
            for future in up:
                succeeded(future.result(timeout=300))
            assert sysctl(world, FORWARD) == '1'
            assert ledger(world)[FORWARD]['owners'] == ['nslab:masquerade:br0', 'nslab:publish:br0']
            down = [pool.submit(run_tasks, world, [task]) for task in (NAT_ABSENT, PUBLISH_ABSENT)]
            results = [succeeded(future.result(timeout=300))[0] for future in down]
            # Exactly one of the two was the last owner and put forwarding back.
            assert sorted(len(sysctl_commands(r)) for r in results) in ([0, 2], [1, 1])
            assert sum('sysctl -w %s=0' % FORWARD in r['commands'] for r in results) == 1
            assert sysctl(world, FORWARD) == '0' and ledger(world) is None


def test_conflicting_ports_fail_before_any_change(fw_world):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks()))
    before = iptables_save(world)
    clash = [{'bridge': 'br0', 'destination': '10.0.0.1', 'ports': ['9000:80']},
             {'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['127.0.0.1:9000:80']}]
    taken = [{'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['8000:8000']}]
    results = run_tasks(world, [
        {'nslab.net.port_publish': {'publish': clash}, 'ignore_errors': True},
        {'nslab.net.port_publish': {'publish': taken}, 'ignore_errors': True},
        {'nslab.net.port_publish': {'bridge': 'br0', 'destination': '10.9.0.1', 'ports': ['1:1']},
         'ignore_errors': True},
        {'nslab.net.nat_masquerade': {'bridge': 'br0', 'subnet': '10.0.0.1/24'}, 'ignore_errors': True},
    ])
    assert all(r.get('failed') for r in results)
    assert 'host port 9000/tcp is published twice' in results[0]['msg']
    assert '10.0.0.1' in results[0]['msg'] and '10.0.0.2' in results[0]['msg']
    assert 'host port 8000/tcp is published twice' in results[1]['msg']
    assert 'destination 10.9.0.1 is in none of its subnets (10.0.0.0/24)' in results[2]['msg']
    assert 'did you mean 10.0.0.0/24' in results[3]['msg']
    assert iptables_save(world) == before


def test_writes_only_into_the_hosts_backend(fw_world):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks()))
    other = 'legacy' if world.iptables == 'nft' else 'nft'
    assert '-j NSLAB-FORWARD' in iptables_save(world, world.iptables)
    assert 'NSLAB' not in iptables_save(world, other)
    # Positive control: a rule written into the other flavour does show in its save.
    world.run(['iptables-%s' % other, '-A', 'INPUT', '-s', '192.0.2.9/32', '-j', 'ACCEPT'])
    assert '192.0.2.9/32' in iptables_save(world, other)


GOLDEN_CASES = {
    'masquerade': [{'nslab.net.nat_masquerade': {'bridge': 'br0', 'subnet': '10.0.0.0/24'}}],
    'masquerade-icc-off-uplink': [{'nslab.net.nat_masquerade': {
        'bridge': 'br0', 'subnet': '10.0.0.0/24', 'icc': False, 'out_interface': 'eth0'}}],
    'publish': [{'nslab.net.port_publish': {'publish': [
        {'bridge': 'br0', 'destination': '10.0.0.1', 'ports': ['8000:8000', '8100-8101:9100-9101']},
        {'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['198.51.100.2:5353:53/udp']}]}}],
    'publish-loopback-only': [{'nslab.net.port_publish': {
        'bridge': 'br0', 'destination': '10.0.0.1', 'ports': ['127.0.0.1:8080:80']}}],
    'two-networks': [
        {'nslab.net.bridge': {'name': 'br1', 'addresses': ['10.1.0.254/24']}},
        {'nslab.net.nat_masquerade': {'networks': [{'bridge': 'br0', 'subnet': '10.0.0.0/24'},
                                                   {'bridge': 'br1', 'subnet': '10.1.0.0/24'}]}},
        {'nslab.net.port_publish': {'bridge': 'br1', 'destination': '10.1.0.1', 'ports': ['8000:80']}}],
}


def _ruleset_text(world):
    """The filter and nat tables without the user's rules: what the golden files hold.

    Per table, in a fixed order, since the two flavours print their tables in different orders.
    """
    user = re.compile(r'192\.0\.2\.')
    tables = ruleset_lines(iptables_save(world))
    lines = []
    for table in ('filter', 'nat'):
        lines += ['*' + table] + [line for line in tables.get(table, []) if not user.search(line)] + ['COMMIT']
    return '\n'.join(lines) + '\n'


@pytest.mark.parametrize('case', sorted(GOLDEN_CASES))
def test_rules_match_the_golden_files(fw_world, case):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks()[:3] + GOLDEN_CASES[case]))
    path = os.path.join(GOLDEN, case + '.rules')
    text = _ruleset_text(world)
    if os.environ.get('NSLAB_UPDATE_GOLDEN'):
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
    with open(path, encoding='utf-8') as handle:
        assert text == handle.read(), 'rules differ from %s (NSLAB_UPDATE_GOLDEN=1 rewrites it)' % path


def test_concurrent_writer_loses_nothing(fw_world):
    world = fw_world
    iterations = 150
    churn = world.popen(churn_command(iterations), stdout=subprocess.DEVNULL)
    try:
        for unused in range(2):
            succeeded(run_tasks(world, lab_tasks()))
            succeeded(run_tasks(world, [
                {'nslab.net.port_publish': {'bridge': 'br0', 'state': 'absent'}},
                {'nslab.net.nat_masquerade': {'bridge': 'br0', 'state': 'absent'}}]))
        results = succeeded(run_tasks(world, lab_tasks()))
    finally:
        assert churn.wait(timeout=120) == 0
    text = iptables_save(world)
    assert churn_lines(text) == expected_churn_lines(iterations)
    ours = [tuple(shlex.split(line)) for line in text.splitlines() if 'nslab:' in line]
    assert len(ours) == len(set(ours))
    wanted = {tuple(shlex.split(rule)[2:]) for r in results[3:] for rule in r['rules']}
    assert sorted(ours) == sorted(wanted)


def test_docker_like_host_keeps_docker_rules_byte_for_byte(fw_world):
    world = fw_world
    make_docker_like(world)
    docker_before = docker_lines(iptables_save(world))
    assert docker_before and ':FORWARD DROP [0:0]' in iptables_save(world)
    succeeded(run_tasks(world, lab_tasks()))
    server = start_http(world, 'netns:ns1', '10.0.0.1', 8000)
    try:
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS
        assert http_get(world, 'netns:ns2', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS
        assert world.run(['ping', '-c1', '-W2', '10.0.0.2'], node='netns:ns1', check=False).returncode == 0
    finally:
        stop(server)
    assert docker_lines(iptables_save(world)) == docker_before
    succeeded(run_tasks(world, lab_tasks(state='absent')))
    assert docker_lines(iptables_save(world)) == docker_before
    assert 'NSLAB' not in iptables_save(world)


def test_a_dnat_rule_deleted_by_hand_does_not_keep_the_rest(fw_world):
    """The bridge's destinations are found by every rule of theirs, not by DNAT rules only."""
    world = fw_world
    baseline = iptables_save(world)
    succeeded(run_tasks(world, lab_tasks()))
    dnat = [line for line in iptables_save(world).splitlines()
            if line.startswith('-A NSLAB-DNAT ') and '"nslab:publish:br0:10.0.0.1"' in line]
    assert len(dnat) == 1
    world.sh('iptables -t nat ' + dnat[0].replace('-A ', '-D ', 1))
    assert 'NSLAB-INBOUND -d 10.0.0.1/32' in iptables_save(world)  # its other rule stays
    teardown = [PUBLISH_ABSENT] + lab_tasks(state='absent')[1:]
    down = succeeded(run_tasks(world, teardown))
    assert any('-d 10.0.0.1/32' in rule for rule in down[0]['diff']['before']['rules'])
    assert down[0]['rules'] == []
    assert iptables_save(world) == baseline
    assert 'NSLAB' not in iptables_save(world)
    again = succeeded(run_tasks(world, teardown))
    assert not any(r['changed'] for r in again)


EXCLUSIVE_MOVE = {'nslab.net.port_publish': {'exclusive': True, 'publish': [
    {'bridge': 'br0', 'destination': '10.0.0.11', 'ports': ['8000:8000']},
    {'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['5353:53/udp']}]}}


def test_exclusive_moves_a_port_to_a_new_address_in_one_run(fw_world):
    world = fw_world
    succeeded(run_tasks(world, lab_tasks()))
    # ns1's address becomes 10.0.0.11; the old one stays, with a server, to show it is not reached.
    world.run(['ip', 'addr', 'add', '10.0.0.11/24', 'dev', 'veth1'], node='netns:ns1')
    old = start_http(world, 'netns:ns1', '10.0.0.1', 8000)
    new = start_http(world, 'netns:ns1', '10.0.0.11', 8000)
    try:
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS
        # Without exclusive the old destination's port is in the way, and nothing changes.
        before = iptables_save(world)
        plain = dict(EXCLUSIVE_MOVE['nslab.net.port_publish'], exclusive=False)
        refused = run_tasks(world, [{'nslab.net.port_publish': plain, 'ignore_errors': True}])[0]
        assert 'host port 8000/tcp is published twice' in refused['msg']
        assert iptables_save(world) == before
        predicted = succeeded(run_tasks(world, [EXCLUSIVE_MOVE], check=True))[0]
        assert iptables_save(world) == before
        moved = succeeded(run_tasks(world, [EXCLUSIVE_MOVE]))[0]
        assert moved['changed'] and predicted['changed']
        for key in ('commands', 'rules', 'diff', 'sysctls'):
            assert predicted[key] == moved[key], key
        assert 'conntrack -D -p tcp --orig-port-dst 8000 --reply-src 10.0.0.1 --reply-port-src 8000' in moved['commands']
        text = iptables_save(world)
        assert 'br0:10.0.0.1"' not in text and '10.0.0.1/32' not in text and '10.0.0.1:' not in text
        assert 'br0:10.0.0.11"' in text
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS
        assert http_get(world, 'host', 'http://127.0.0.1:8000/') == '10.0.0.254'
        # It was the new destination that answered: without it nothing does, while the
        # server on the old address still runs (reached directly from inside the lab).
        stop(new)
        assert http_get(world, 'netns:ns2', 'http://10.0.0.1:8000/') == '10.0.0.2'
        assert http_get(world, 'other', HOST_URL, timeout=2) is None
        again = succeeded(run_tasks(world, [EXCLUSIVE_MOVE]))[0]
        assert not again['changed'] and again['commands'] == []
    finally:
        stop(old)
        if new.poll() is None:
            stop(new)


# A UDP server that answers with its own address, and a client that sends from a fixed port.
UDP_WHO = r'''
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = sock.recvfrom(2048)
    sock.sendto(sys.argv[1].encode(), peer)
'''
UDP_ASK_FROM = r'''
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("", int(sys.argv[3])))
sock.settimeout(2)
sock.sendto(b"who", (sys.argv[1], int(sys.argv[2])))
try:
    print(sock.recvfrom(2048)[0].decode())
except socket.timeout:
    sys.exit(1)
'''
CONNTRACK_DUMP = r'''
import json
from ansible_collections.nslab.net.plugins.module_utils._netlink.conntrack import ConntrackSocket
with ConntrackSocket() as conntrack:
    print(json.dumps([dict(proto=f.proto, sport=f.orig_sport, dport=f.orig_dport, reply_src=f.reply_src)
                      for f in conntrack.flows()]))
'''
COLLECTIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           '.venv', 'collections')


def start_udp_who(world, netns, address, port):
    proc = world.popen([sys.executable, '-c', UDP_WHO, address, str(port)], node='netns:' + netns)
    wait_until(lambda: udp_ask(world, 'netns:' + netns, address, port, timeout=0.5) == address,
               'UDP server on %s:%d in %s' % (address, port, netns))
    return proc


def ask_from(world, source_port, port):
    """Which destination a datagram from the other machine's ``source_port`` reaches."""
    proc = world.run([sys.executable, '-c', UDP_ASK_FROM, HOST_ADDRESS, str(port), str(source_port)],
                     node='other', check=False, timeout=15)
    return proc.stdout.strip() if proc.returncode == 0 else None


def host_flows(world):
    """The host's conntrack entries (tcp and udp), read with the module's own ctnetlink code."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return json.loads(world.run([sys.executable, '-c', CONNTRACK_DUMP], env=env).stdout)


def test_a_moved_udp_port_takes_its_clients_along(fw_world):
    """moby's TestConntrackFlowsLeak: a client that keeps its source port follows the port."""
    world = fw_world
    lab = [{'bridge': 'br0', 'destination': '10.0.0.1', 'ports': ['5353:53/udp']},
           {'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['5354:53/udp']}]
    succeeded(run_tasks(world, lab_tasks(publish=lab)))
    servers = [start_udp_who(world, 'ns1', '10.0.0.1', 53), start_udp_who(world, 'ns2', '10.0.0.2', 53)]
    try:
        assert ask_from(world, 40000, 5353) == '10.0.0.1'
        assert ask_from(world, 40001, 5354) == '10.0.0.2'  # a flow of a port that stays
        flows = host_flows(world)
        assert {'proto': 'udp', 'sport': 40000, 'dport': 5353, 'reply_src': '10.0.0.1'} in flows
        move = {'nslab.net.port_publish': {'exclusive': True, 'publish': [
            {'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['5353:53/udp', '5354:53/udp']}]}}
        # The flows are deleted without pyroute2; Debian's 0.7 proves it (its interpreter
        # has no python-iptables, so the legacy flavour runs on the PyPI one).
        python = TARGET_PYTHONS['pyroute2-0.7'] if world.iptables == 'nft' else None
        moved = succeeded(run_tasks(world, [move], python=python))[0]
        assert 'conntrack -D -p udp --orig-port-dst 5353 --reply-src 10.0.0.1 --reply-port-src 53' in moved['commands']
        flows = host_flows(world)
        assert not [f for f in flows if f['dport'] == 5353]
        # The other port's flow was not touched (and had not timed out either).
        assert {'proto': 'udp', 'sport': 40001, 'dport': 5354, 'reply_src': '10.0.0.2'} in flows
        assert ask_from(world, 40002, 5353) == '10.0.0.2'  # a fresh source port
        assert ask_from(world, 40000, 5353) == '10.0.0.2'  # the same one as before the move
        down = succeeded(run_tasks(world, [PUBLISH_ABSENT], python=python))[0]
        assert sorted(c for c in down['commands'] if c.startswith('conntrack ')) == [
            'conntrack -D -p udp --orig-port-dst 5353 --reply-src 10.0.0.2 --reply-port-src 53',
            'conntrack -D -p udp --orig-port-dst 5354 --reply-src 10.0.0.2 --reply-port-src 53']
        assert not [f for f in host_flows(world) if f['dport'] in (5353, 5354)]
    finally:
        stop(*servers)
