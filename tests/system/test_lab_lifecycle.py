# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's lifecycle through ``ansible-playbook playbooks/lab.yml``: edit the variables, re-run.

Each edit starts from a built lab (the seeds' one unless said otherwise), runs the edited
variables twice (the first run changes something, the second nothing) and then demands that
the kernel holds exactly what a fresh build of the edited variables gives: the normalised
description of :mod:`lab_state` of this world equals that of another world where only the
edited variables were built, once. Traffic proves the new lab, each "does not answer" after
a positive control, and the teardown leaves the host as it was before the first build.

Around the edits: teardown with the old, the new or no variables; what the lab did not make
(a namespace of the same name, Docker's published port, a host process on the port, another
lab) is refused before any change; input that cannot work is refused before any change; a
host broken by hand is repaired; a run killed at any moment is finished by the next one.
The edits that move firewall rules, the hand-deleted DNAT rule and Docker's host run on both
iptables flavours; the rest on this machine's, to keep the time bounded.

The reference descriptions are built in a second world, in a background thread, while the
test drives its own world, and are kept for the session (a reference is the same whichever
test asks for it).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import yaml

from ansible_runs import VENV, ansible_env
from firewall_lab import ECHO_HTTP, http_get, start_http, stop, wait_until
from lab_state import diff, lab_state, processes, record_exists
from nslab_sandbox import HOST_ADDRESS, INTERNET_ADDRESS, OTHER_ADDRESS, World, host_snapshot
from nslab_sandbox.docker_host import DOCKER_HOST_PORT, docker_lines, make_docker_like
from nslab_sandbox.iptables_flavour import FLAVOURS, iptables_save
from test_lab_role import DIAGRAM, PLAYBOOK, SEEDS, Play, play, reaches, snapshot, without_empty_tables

pytestmark = pytest.mark.system

NS1, NS2 = SEEDS['lab_namespaces']
GATEWAY = SEEDS['lab_gateway']
#: What ps shows of ns1's service (the command's ``exec`` leaves python3 alone).
SERVICE = 'python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP
#: The part of a lab service's command line that no other process of a world has (the
#: internet's echo server runs without --bind).
SERVICE_MARK = '%s --bind' % ECHO_HTTP
INTERNET_URL = 'http://%s/' % INTERNET_ADDRESS
DEFAULT = None  # the flavour of this machine's iptables: World() without a choice


def url(address, port=8000):
    return 'http://%s:%d/' % (address, port)


def ns1(**changes):
    """ns1 of the seeds with ``changes``; a change to None drops that key."""
    entry = dict(NS1, **changes)
    return {key: value for key, value in entry.items() if value is not None}


def ns2(**changes):
    return dict(NS2, **changes)


def lab(*namespaces, **variables):
    """The seeds' variables with other namespaces and other (or more) variables."""
    return dict(dict(SEEDS, **variables), lab_namespaces=list(namespaces))


# -- references: a fresh world where only these variables were built ------------------------

_REFERENCES = {}
_BACKGROUND = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix='nslab-reference')
atexit.register(_BACKGROUND.shutdown, wait=True, cancel_futures=True)


def _build_fresh(flavour, builds):
    with World(iptables=flavour) as world:
        for variables in builds:
            built(play(world, variables))
        return lab_state(world)


def fresh_state(flavour, *builds):
    """A future of the :mod:`lab_state` description of a fresh world (iptables ``flavour``)
    where each of ``builds`` (role variables) was built once, in turn."""
    key = json.dumps([flavour, builds], sort_keys=True)
    if key not in _REFERENCES:
        _REFERENCES[key] = _BACKGROUND.submit(_build_fresh, flavour, builds)
    return _REFERENCES[key]


@pytest.fixture(autouse=True)
def references_done():
    """A reference still being built when its test failed early ends with that test, so that
    it takes no time from the next one (the sweeps measure time)."""
    yield
    concurrent.futures.wait(list(_REFERENCES.values()))


def assert_same_state(world, reference, what='fresh build'):
    state = lab_state(world)
    expected = reference.result()
    assert state == expected, 'the host differs from a %s:\n%s' % (what, diff(expected, state))


# -- runs and their outcome -------------------------------------------------------------------

def failure_text(result):
    """What the failed task said: its ``msg`` and ``problems`` (or its report as printed)."""
    match = re.search(r'^(?:fatal|failed): \[[^]]*\]: FAILED! => (\{.*\})$', result.output, re.M)
    if not match:
        match = re.search(r'^(?:fatal|failed): \[.*?(?=^PLAY RECAP)', result.output, re.M | re.S)
        return match.group(0) if match else ''
    try:
        report = json.loads(match.group(1))
    except ValueError:
        return match.group(1)
    problems = report.get('problems') or report.get('argument_errors') or []
    return '\n'.join([str(report.get('msg', ''))] + [str(problem) for problem in problems])


def shown(result):
    """What an assertion about a run shows (a string: pytest would cut anything else to a line)."""
    return 'rc=%d changed=%d failed=%d\n%s\n--- output ---\n%s' % (
        result.rc, result.changed, result.failed, failure_text(result), result.output[-3000:])


def built(result):
    assert result.rc == 0 and result.failed == 0, shown(result)
    return result


def assert_refused(result, *fragments):
    """A run that failed before changing anything, its message holding each of ``fragments``."""
    assert result.rc != 0 and result.failed == 1 and result.changed == 0, shown(result)
    text = failure_text(result)
    for fragment in fragments:
        assert fragment in text, 'no %r in the message:\n%s' % (fragment, shown(result))
    return text


def converged(result):
    """A first run of edited variables: it worked and changed something."""
    assert result.rc == 0 and result.failed == 0 and result.changed > 0, shown(result)
    return result


def unchanged(result):
    assert result.rc == 0 and result.failed == 0 and result.changed == 0, shown(result)
    return result


def same_host(before, after):
    before, after = without_empty_tables(before), without_empty_tables(after)
    assert after == before, 'the host differs:\n' + host_snapshot.diff(before, after)


def assert_torn_down(world, pristine, variables, lab_name='lab'):
    """Teardown with ``variables`` leaves the host as ``pristine``; a second one changes nothing."""
    down = play(world, variables, '-e', 'lab_state=absent')
    assert down.rc == 0 and down.failed == 0 and down.changed > 0, shown(down)
    same_host(pristine, snapshot(world))
    assert processes(world, SERVICE_MARK) == []
    assert not record_exists(world, lab_name)
    unchanged(play(world, variables, '-e', 'lab_state=absent'))


def rules_of(text):
    """An iptables-save text without counters and without the tables that hold nothing."""
    text = re.sub(r' \[\d+:\d+\]', '', text).strip()
    return without_empty_tables({'firewall:iptables': text})['firewall:iptables']


def netns_list(world):
    return world.run(['ip', 'netns', 'list']).stdout.split()


def link_exists(world, name):
    return world.run(['ip', 'link', 'show', 'dev', name], check=False).returncode == 0


def host_port_closed(world, port, control=True):
    """Nothing answers ``port`` on the host's address from the other machine; with ``control``,
    a server of the test on the host's address answers it first (the path is there)."""
    if control:
        server = start_http(world, 'host', HOST_ADDRESS, 9009)
        try:
            assert http_get(world, 'other', url(HOST_ADDRESS, 9009)) == OTHER_ADDRESS
        finally:
            stop(server)
    return http_get(world, 'other', url(HOST_ADDRESS, port), timeout=2) is None


# -- the edits --------------------------------------------------------------------------------

class Edit:
    """Edited variables, and the traffic that proves them once converged.

    ``open_ports``: {host port: the gateway its service sees for 127.0.0.1 clients}; each
    answers the other machine and the host's loopback. ``reach``/``no_reach``: HTTP checks
    ``(node, url[, expected answer])``; ``pings``/``no_pings``: ``(node, address)``; every
    negative has a positive check from the same node. ``internet_from``: a namespace that
    reaches the internet, masqueraded; ``no_internet_from``: one that does not.
    ``services``: every lab service command line of the world afterwards. ``start``: the lab
    the edit starts from (the seeds' by default).
    """

    # pylint: disable-next=too-many-arguments
    def __init__(self, edited, start=None, open_ports=None, closed_ports=(), reach=(), no_reach=(),
                 pings=(), no_pings=(), internet_from=None, no_internet_from=None, gone_namespaces=(),
                 gone_links=(), services=(SERVICE,), after_first=None):
        self.edited, self.start = edited, start or SEEDS
        self.open_ports = open_ports if open_ports is not None else {8000: GATEWAY}
        self.closed_ports, self.reach, self.no_reach = closed_ports, reach, no_reach
        self.pings, self.no_pings = pings, no_pings
        self.internet_from, self.no_internet_from = internet_from, no_internet_from
        self.gone_namespaces, self.gone_links = gone_namespaces, gone_links
        self.services, self.after_first = sorted(services), after_first
        controlled = {check[0] for check in reach} | {check[0] for check in pings}
        assert all(check[0] in controlled for check in list(no_reach) + list(no_pings)), 'no positive control'

    def check_traffic(self, world):
        for port, gateway in sorted(self.open_ports.items()):
            assert http_get(world, 'other', url(HOST_ADDRESS, port)) == OTHER_ADDRESS, 'port %d' % port
            assert http_get(world, 'host', url('127.0.0.1', port)) == gateway, 'port %d on 127.0.0.1' % port
        for node, target, expected in self.reach:
            assert http_get(world, node, target) == expected, (node, target)
        for node, address in self.pings:
            assert reaches(world, node, address), (node, address)
        for node, target in self.no_reach:
            assert http_get(world, node, target, timeout=2) is None, (node, target)
        for node, address in self.no_pings:
            assert not reaches(world, node, address), (node, address)
        for index, port in enumerate(self.closed_ports):
            # An open port, just proven, is the control of the path; else a server of our own.
            assert host_port_closed(world, port, control=not self.open_ports and index == 0), port
        if self.internet_from:
            assert http_get(world, 'netns:' + self.internet_from, INTERNET_URL) == HOST_ADDRESS
        if self.no_internet_from:
            assert http_get(world, 'host', INTERNET_URL) == HOST_ADDRESS  # the internet is there
            assert http_get(world, 'netns:' + self.no_internet_from, INTERNET_URL, timeout=2) is None
        listed = netns_list(world)
        for name in self.gone_namespaces:
            assert name not in listed, listed
        for name in self.gone_links:
            assert not link_exists(world, name), name
        assert sorted(processes(world, SERVICE_MARK)) == self.services


def ns2_keeps_its_default_route(world):
    routes = world.run(['ip', '-n', 'ns2', '-4', 'route', 'show', 'default']).stdout
    assert 'default via 10.0.0.254 dev eth0' in routes, routes


OVERLAY = dict(vni=42)
NETWORKS = [dict(name='front', bridge='br-front', subnet='10.10.0.0/24'),
            dict(name='back', bridge='br-back', subnet='10.20.0.0/24')]
FRONT = NETWORKS[:1]
TWO_NETWORKS = dict(lab_networks=NETWORKS, lab_namespaces=[
    dict(NS1, address='10.10.0.11', networks=['front']),
    dict(name='ns2', address='10.10.0.12', networks=['front']),
    dict(name='ns3', address='10.20.0.13', networks=['back'])])
NS1_FRONT, NS2_FRONT, NS3_BACK = TWO_NETWORKS['lab_namespaces']

EDITS = {
    # a. ns1 moves to another address; its published port follows.
    'a-address': Edit(
        lab(ns1(address='10.0.0.11'), NS2),
        reach=[('netns:ns2', url('10.0.0.11'), '10.0.0.2')], no_reach=[('netns:ns2', url('10.0.0.1'))],
        internet_from='ns1'),
    # b. another subnet and gateway, with the addresses given...
    'b-subnet': Edit(
        lab(ns1(address='10.1.0.1'), ns2(address='10.1.0.2'), lab_subnet='10.1.0.0/24', lab_gateway='10.1.0.254'),
        open_ports={8000: '10.1.0.254'},
        reach=[('netns:ns2', url('10.1.0.1'), '10.1.0.2')], no_reach=[('netns:ns2', url('10.0.0.1'))],
        internet_from='ns2'),
    # ... and allocated (ns1 and ns2 get .1 and .2 of the new subnet, as on a fresh host).
    'b-subnet-allocated': Edit(
        lab(ns1(address=None), dict(name='ns2'), lab_subnet='10.1.0.0/24', lab_gateway='10.1.0.254'),
        open_ports={8000: '10.1.0.254'},
        reach=[('netns:ns2', url('10.1.0.1'), '10.1.0.2')], no_reach=[('netns:ns2', url('10.0.0.1'))],
        internet_from='ns2'),
    # c. ns1's address and its port at once.
    'c-address-and-port': Edit(
        lab(ns1(address='10.0.0.11', publish=['8001:8000']), NS2),
        open_ports={8001: GATEWAY}, closed_ports=[8000],
        reach=[('netns:ns2', url('10.0.0.11'), '10.0.0.2')], no_reach=[('netns:ns2', url('10.0.0.1'))],
        internet_from='ns1'),
    # d. ns2 (no ports) moves: it must keep its default route from the first run on.
    'd-address-no-ports': Edit(
        lab(NS1, ns2(address='10.0.0.12')),
        pings=[('netns:ns1', '10.0.0.12')], no_pings=[('netns:ns1', '10.0.0.2')],
        internet_from='ns2', after_first=ns2_keeps_its_default_route),
    # e. ns1 dropped from the list: its namespace, cable, port and service go.
    'e-namespace-dropped': Edit(
        lab(NS2), open_ports={}, closed_ports=[8000], internet_from='ns2',
        gone_namespaces=['ns1'], gone_links=['ns1-eth0'], services=()),
    # f. edits that converged before the lab kept a record.
    'f-port-moved': Edit(lab(ns1(publish=['8001:8000']), NS2), open_ports={8001: GATEWAY}, closed_ports=[8000],
                         internet_from='ns2'),
    'f-namespace-added': Edit(lab(NS1, NS2, dict(name='ns3')), reach=[('netns:ns3', url('10.0.0.1'), '10.0.0.3')],
                              internet_from='ns3'),
    'f-masquerade-off': Edit(lab(NS1, NS2, lab_masquerade=False),
                             reach=[('netns:ns2', url('10.0.0.1'), '10.0.0.2')], no_internet_from='ns2'),
    'f-state-absent': Edit(lab(NS1, dict(name='ns2', state='absent')), internet_from='ns1',
                           gone_namespaces=['ns2'], gone_links=['ns2-eth0']),
    'f-command-changed': Edit(
        lab(ns1(command='exec python3 %s --bind 10.0.0.1 --port 8000' % ECHO_HTTP), NS2),
        reach=[('netns:ns2', url('10.0.0.1'), '10.0.0.2')], internet_from='ns1',
        services=['python3 %s --bind 10.0.0.1 --port 8000' % ECHO_HTTP]),
    'f-port-removed': Edit(lab(ns1(publish=None), NS2), open_ports={}, closed_ports=[8000],
                           reach=[('netns:ns2', url('10.0.0.1'), '10.0.0.2')], internet_from='ns2'),
    # g. the bridge renamed: the old one goes.
    'g-bridge-renamed': Edit(lab(NS1, NS2, lab_bridge='br1'), internet_from='ns2', gone_links=['br0']),
    # h. the multi-network form: a namespace moves to the other network...
    'h-namespace-moved': Edit(
        dict(TWO_NETWORKS, lab_namespaces=[NS1_FRONT, dict(NS2_FRONT, address='10.20.0.12', networks=['back']),
                                           NS3_BACK]),
        start=TWO_NETWORKS, open_ports={8000: '10.10.0.1'},
        pings=[('netns:ns2', '10.20.0.13')], no_pings=[('netns:ns2', '10.10.0.11')], internet_from='ns2'),
    # ... a network goes and its namespace moves to the remaining one...
    'h-network-removed-moved': Edit(
        dict(lab_networks=FRONT, lab_namespaces=[NS1_FRONT, NS2_FRONT,
                                                 dict(NS3_BACK, address='10.10.0.13', networks=['front'])]),
        start=TWO_NETWORKS, open_ports={8000: '10.10.0.1'},
        reach=[('netns:ns3', url('10.10.0.11'), '10.10.0.13')], internet_from='ns3', gone_links=['br-back']),
    # ... or is dropped with it.
    'h-network-removed-dropped': Edit(
        dict(lab_networks=FRONT, lab_namespaces=[NS1_FRONT, NS2_FRONT]),
        start=TWO_NETWORKS, open_ports={8000: '10.10.0.1'}, internet_from='ns2',
        gone_namespaces=['ns3'], gone_links=['br-back', 'ns3-eth0']),
    # i. the overlay (no other host in this inventory: its device, rules and MTU alone) comes...
    'i-overlay-added': Edit(lab(NS1, NS2, lab_overlay=OVERLAY), reach=[('netns:ns2', url('10.0.0.1'), '10.0.0.2')],
                            internet_from='ns2'),
    # ... changes its VNI (a new device: the old one goes)...
    'i-overlay-vni-changed': Edit(lab(NS1, NS2, lab_overlay=dict(vni=43, port=8472)), start=lab(NS1, NS2, lab_overlay=OVERLAY),
                                  internet_from='ns2', gone_links=['nslab.42']),
    # ... and goes: the lab's MTU is 1500 again.
    'i-overlay-removed': Edit(lab(NS1, NS2), start=lab(NS1, NS2, lab_overlay=OVERLAY), internet_from='ns2',
                              gone_links=['nslab.42']),
}
#: The edits that move firewall rules around, run on both iptables flavours.
FIREWALL_EDITS = ('a-address', 'b-subnet', 'b-subnet-allocated', 'c-address-and-port', 'e-namespace-dropped',
                  'i-overlay-vni-changed')
EDIT_CASES = [pytest.param(flavour, name, id='%s-%s' % (name, flavour))
              for name in EDITS for flavour in (FLAVOURS if name in FIREWALL_EDITS else ('default',))]


def flavour_of(name):
    return None if name == 'default' else name


@pytest.mark.parametrize('flavour,name', EDIT_CASES)
def test_an_edit_converges_to_a_fresh_build(flavour, name):
    edit = EDITS[name]
    flavour = flavour_of(flavour)
    reference = fresh_state(flavour, edit.edited)
    with World(iptables=flavour) as world:
        pristine = snapshot(world)
        built(play(world, edit.start))
        converged(play(world, edit.edited))
        if edit.after_first:
            edit.after_first(world)
        unchanged(play(world, edit.edited))
        assert_same_state(world, reference)
        edit.check_traffic(world)
        assert_torn_down(world, pristine, edit.edited)


# The edit of the teardown tests: another bridge and subnet, ns1's port moved, ns2 dropped
# and ns3 added, so that neither the old nor the new variables name all the lab made.
MOVED_LAB = lab(ns1(address='10.1.0.1', publish=['8001:8000']), dict(name='ns3'),
                lab_bridge='br1', lab_subnet='10.1.0.0/24', lab_gateway='10.1.0.254')
TEARDOWN_VARIABLES = {'old': SEEDS, 'new': MOVED_LAB, 'none': {}}


@pytest.mark.parametrize('variables', sorted(TEARDOWN_VARIABLES))
def test_teardown_after_an_edit_with_old_new_or_no_variables(variables):
    with World() as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        converged(play(world, MOVED_LAB))
        assert http_get(world, 'other', url(HOST_ADDRESS, 8001)) == OTHER_ADDRESS
        assert_torn_down(world, pristine, TEARDOWN_VARIABLES[variables])
        assert not link_exists(world, 'br0') and not link_exists(world, 'br1')


# -- what the lab did not make ----------------------------------------------------------------

@pytest.mark.parametrize('busy', [False, True], ids=['idle', 'with-a-process'])
def test_a_namespace_the_lab_did_not_make_is_refused_and_left_alone(busy):
    with World() as world:
        world.run(['ip', 'netns', 'add', 'ns1'])
        sleeper = world.popen(['sleep', '600'], node='netns:ns1') if busy else None
        try:
            if busy:
                wait_until(lambda: processes(world, 'sleep 600'), 'sleep in ns1')
            before = snapshot(world)
            assert_refused(play(world, SEEDS), 'namespace ns1 already exists')
            assert snapshot(world) == before
            # The lab made nothing, so its teardown removes nothing, the foreign ns1 least of all.
            down = play(world, SEEDS, '-e', 'lab_state=absent')
            assert down.rc == 0 and down.failed == 0, shown(down)
            assert 'ns1' in netns_list(world)
            same_host(before, snapshot(world))
            if busy:
                assert sleeper.poll() is None and processes(world, 'sleep 600')
        finally:
            if sleeper:
                stop(sleeper)


@pytest.mark.parametrize('flavour', FLAVOURS)
def test_dockers_published_port_is_refused_and_its_rules_untouched(flavour):
    with World(iptables=flavour) as world:
        rules = make_docker_like(world)
        before = snapshot(world)
        port = '%d:8000' % DOCKER_HOST_PORT
        assert_refused(play(world, lab(ns1(publish=[port]), NS2)), str(DOCKER_HOST_PORT))
        # Reading the rules may leave an empty table behind on legacy iptables (see
        # without_empty_tables); every rule, Docker's first, is as it was.
        assert rules_of(iptables_save(world)) == rules_of(rules)
        same_host(before, snapshot(world))
        # Positive control: the same lab on a port Docker does not publish builds beside it.
        built(play(world, SEEDS))
        assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS
        assert docker_lines(iptables_save(world)) == docker_lines(rules)
        assert_torn_down(world, before, SEEDS)


def test_a_port_a_host_process_listens_on_is_refused():
    with World() as world:
        served = tempfile.mkdtemp(prefix='nslab-served-')
        server = world.popen(['python3', '-m', 'http.server', '8000', '--bind', '0.0.0.0', '--directory', served])
        try:
            wait_until(lambda: http_get(world, 'host', url('127.0.0.1'), timeout=1) is not None, 'http.server')
            before = snapshot(world)
            assert_refused(play(world, SEEDS), '8000')
            assert snapshot(world) == before
            # Positive control: publishing 8001 instead builds, and the host's server keeps 8000.
            moved = lab(ns1(publish=['8001:8000']), NS2)
            built(play(world, moved))
            assert http_get(world, 'other', url(HOST_ADDRESS, 8001)) == OTHER_ADDRESS
            assert http_get(world, 'other', url(HOST_ADDRESS, 8000)) is not None
            assert_torn_down(world, before, moved)
        finally:
            stop(server)
            shutil.rmtree(served)


LAB_A = dict(lab_name='a', lab_bridge='br-a', lab_subnet='10.1.0.0/24',
             lab_namespaces=[dict(name='a1', publish=['8001:8000'], command=NS1['command'])])
LAB_B = dict(lab_name='b', lab_bridge='br-b', lab_subnet='10.2.0.0/24',
             lab_namespaces=[dict(name='b1', publish=['8002:8000'], command=NS1['command'])])


def test_labs_of_different_names_share_a_host():
    both, only_b = fresh_state(DEFAULT, LAB_A, LAB_B), fresh_state(DEFAULT, LAB_B)
    with World() as world:
        pristine = snapshot(world)
        converged(play(world, LAB_A))
        converged(play(world, LAB_B))
        unchanged(play(world, LAB_A))
        unchanged(play(world, LAB_B))
        assert_same_state(world, both)
        assert http_get(world, 'other', url(HOST_ADDRESS, 8001)) == OTHER_ADDRESS
        assert http_get(world, 'other', url(HOST_ADDRESS, 8002)) == OTHER_ADDRESS
        # A lab cannot take what another lab made.
        before = snapshot(world)
        greedy = dict(LAB_B, lab_namespaces=LAB_B['lab_namespaces'] + [dict(name='a1')])
        assert_refused(play(world, greedy), 'a1')
        assert snapshot(world) == before
        # Each lab's teardown, by its name alone, takes only what that lab made.
        down = play(world, dict(lab_name='a'), '-e', 'lab_state=absent')
        assert down.rc == 0 and down.failed == 0 and down.changed > 0, shown(down)
        assert_same_state(world, only_b, 'fresh build of lab b alone')
        assert http_get(world, 'other', url(HOST_ADDRESS, 8002)) == OTHER_ADDRESS
        assert host_port_closed(world, 8001, control=False)
        assert not record_exists(world, 'a') and record_exists(world, 'b')
        assert_torn_down(world, pristine, dict(lab_name='b'), lab_name='b')


# -- input that cannot work -------------------------------------------------------------------

def _says_publish_must_be_a_list(text):
    assert 'must be a list' in text, text
    # Not a string taken apart into its characters, each reported as a port spec.
    assert not re.search(r'''['"][0-9:]['"]''', text), text


REFUSED = {
    'gateway-is-the-uplink-address': (dict(SEEDS, lab_gateway=HOST_ADDRESS), [HOST_ADDRESS], None),
    'uplink-does-not-exist': (dict(SEEDS, lab_uplink='nosuch'), ['nosuch'], None),
    'subnet-overlaps-the-uplink': (
        lab(ns1(address=None), dict(name='ns2'), lab_subnet='198.51.100.0/24', lab_gateway=None),
        ['198.51.100.'], None),
    'bridge-is-the-uplink': (dict(SEEDS, lab_bridge='eth0'), ['eth0'], None),
    'publish-is-a-string': (lab(ns1(publish='8000:8000'), NS2), ['publish'], _says_publish_must_be_a_list),
}


@pytest.mark.parametrize('start', ['empty-host', 'seeds-lab'])
@pytest.mark.parametrize('case', sorted(REFUSED))
def test_input_that_cannot_work_is_refused_before_any_change(case, start):
    variables, fragments, more = REFUSED[case]
    variables = {key: value for key, value in variables.items() if value is not None}
    with World() as world:
        if start == 'seeds-lab':
            built(play(world, SEEDS))
        before, state = snapshot(world), lab_state(world)
        text = assert_refused(play(world, variables), *fragments)
        if more:
            more(text)
        assert snapshot(world) == before
        assert lab_state(world) == state
        if start == 'seeds-lab':
            assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS


# -- a host changed by hand -------------------------------------------------------------------

def delete_dnat_rule(world):
    """Delete ns1's DNAT rule the way somebody would, found in iptables-save."""
    rules = world.run(['iptables-save', '-t', 'nat']).stdout.splitlines()
    found = [line for line in rules if line.startswith('-A NSLAB-DNAT ') and '--dport 8000' in line]
    assert len(found) == 1, rules
    world.run(['iptables', '-w', '-t', 'nat', '-D'] + shlex.split(found[0])[1:])


@pytest.mark.parametrize('then', ['rerun', 'teardown'])
@pytest.mark.parametrize('flavour', FLAVOURS)
def test_a_dnat_rule_deleted_by_hand(flavour, then):
    reference = fresh_state(flavour, SEEDS)
    with World(iptables=flavour) as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        delete_dnat_rule(world)
        assert http_get(world, 'netns:ns2', url('10.0.0.1')) == '10.0.0.2'  # the service still answers
        assert http_get(world, 'other', url(HOST_ADDRESS), timeout=2) is None
        if then == 'rerun':
            converged(play(world, SEEDS))
            assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS
            unchanged(play(world, SEEDS))
            assert_same_state(world, reference)
        assert_torn_down(world, pristine, SEEDS)


def test_a_namespace_deleted_by_hand_under_its_service_is_rebuilt():
    reference = fresh_state(DEFAULT, SEEDS)
    with World() as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        world.run(['ip', 'netns', 'del', 'ns1'])
        assert 'ns1' not in netns_list(world)
        assert processes(world, SERVICE_MARK) == [SERVICE]  # it lives on, in a namespace without a name
        built(play(world, SEEDS))
        assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS
        assert http_get(world, 'netns:ns2', url('10.0.0.1')) == '10.0.0.2'
        assert processes(world, SERVICE_MARK) == [SERVICE]
        unchanged(play(world, SEEDS))
        assert_same_state(world, reference)
        assert_torn_down(world, pristine, SEEDS)


@pytest.mark.parametrize('then', ['rerun', 'teardown'])
def test_a_namespace_name_left_without_its_namespace(then):
    """What a run killed between unmounting a namespace and unlinking its name leaves, made
    by hand (the sweeps below hit that moment only now and then): /run/netns/ns2, an empty file."""
    reference = fresh_state(DEFAULT, SEEDS)
    with World() as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        world.run(['umount', '/run/netns/ns2'])
        assert lab_state(world)['namespaces']['ns2'] == 'not a namespace'
        if then == 'rerun':
            converged(play(world, SEEDS))
            unchanged(play(world, SEEDS))
            assert_same_state(world, reference)
            assert http_get(world, 'netns:ns2', INTERNET_URL) == HOST_ADDRESS
        assert_torn_down(world, pristine, SEEDS)


# -- teardown that must not go ahead ----------------------------------------------------------

def test_a_teardown_refuses_before_any_change_while_a_foreign_process_runs():
    with World() as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        sleeper = world.popen(['sleep', '600'], node='netns:ns2')
        try:
            wait_until(lambda: processes(world, 'sleep 600'), 'sleep in ns2')
            before, state = snapshot(world), lab_state(world)
            assert_refused(play(world, SEEDS, '-e', 'lab_state=absent'), 'ns2')
            assert snapshot(world) == before
            assert lab_state(world) == state
            assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS
        finally:
            stop(sleeper)
        assert_torn_down(world, pristine, SEEDS)


def test_a_teardown_in_check_mode_predicts_and_changes_nothing():
    with World() as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        before, state = snapshot(world), lab_state(world)
        checked = built(play(world, SEEDS, '-e', 'lab_state=absent', check=True))
        assert checked.changed > 0, shown(checked)
        assert snapshot(world) == before
        assert lab_state(world) == state
        assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS
        assert_torn_down(world, pristine, SEEDS)


# -- inventories ------------------------------------------------------------------------------

def user_play(world, workdir, variables, *args):
    """``ansible-playbook playbooks/lab.yml -i localhost, -c local``, run from ``workdir`` as a
    user would, with the role's own diagram path. PATH leaves out pyenv's shims: Ansible's
    interpreter discovery on a fresh machine finds /usr/bin/python3, where on a developer's it
    may find a shim of an interpreter that is not installed."""
    path = os.path.join(workdir, 'lab-variables.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(dict({'lab_install_packages': False}, **variables), handle)
    env = ansible_env()
    env['PATH'] = os.pathsep.join(entry for entry in env['PATH'].split(os.pathsep) if '/.pyenv/' not in entry)
    argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), PLAYBOOK, '-i', 'localhost,', '-c', 'local',
            '-e', '@' + path] + list(args)
    return Play(world.run(argv, check=False, env=env, timeout=600, cwd=workdir))


def test_a_host_list_inventory_builds_reruns_and_tears_down(tmp_path):
    workdir = str(tmp_path)
    reference = fresh_state(DEFAULT, SEEDS)
    with World() as world:
        pristine = snapshot(world)
        converged(user_play(world, workdir, SEEDS))
        assert os.path.exists(os.path.join(workdir, 'lab-localhost.md')), os.listdir(workdir)
        unchanged(user_play(world, workdir, SEEDS))
        assert_same_state(world, reference, 'fresh build with the repository inventory')
        assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS
        down = user_play(world, workdir, SEEDS, '-e', 'lab_state=absent')
        assert down.rc == 0 and down.failed == 0 and down.changed > 0, shown(down)
        same_host(pristine, snapshot(world))
        assert processes(world, SERVICE_MARK) == [] and not record_exists(world)
        unchanged(user_play(world, workdir, SEEDS, '-e', 'lab_state=absent'))


# -- runs killed at any moment ----------------------------------------------------------------

# Delays per sweep (see sweep_delays). The sweeps run on this machine's iptables flavour
# only: both would add about 80 s to the file.
SWEEP = 8


def _stat(pid):
    """``(ppid, session)`` of ``pid`` (as this process sees PIDs), or None when it is gone."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8', errors='replace') as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(')') + 2:].split()
    return int(fields[1]), int(fields[3])


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir('/proc/%d/task' % parent)
        except OSError:
            continue
        for task in tasks:
            try:
                with open('/proc/%d/task/%s/children' % (parent, task), encoding='ascii') as handle:
                    children = [int(child) for child in handle.read().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


def kill_run(proc):
    """SIGKILL a run of ansible-playbook started with ``world.popen`` (a session of its own).

    That is the session nsenter leads, where ansible-playbook runs, and the sessions its
    workers lead (Ansible's workers call setsid), where the module and what it runs are: the
    whole run, but not the services the module started (each leads a session of its own and
    outlives the play by design). Everything is stopped first, until the set holds still,
    so nothing forks away while it is being killed. Returns how many processes were killed.
    """
    stopped = set()
    for unused in range(100):
        tree = {pid: _stat(pid) for pid in _descendants(proc.pid)}
        tree = {pid: stat for pid, stat in tree.items() if stat}
        sessions = {proc.pid} | {
            pid for pid, (ppid, session) in tree.items()
            if session == pid and tree.get(ppid, (0, 0))[1] == proc.pid}
        members = {pid for pid, stat in tree.items() if stat[1] in sessions}
        if members <= stopped:
            break
        for pid in members - stopped:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped |= members
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # nsenter stops itself when it sees its command stopped (maybe only after the SIGKILL),
    # and then waits for a SIGCONT; continued, it reaps the command and exits. It is ours and
    # not reaped yet, so its PID is still its own.
    deadline = time.monotonic() + 30
    while True:
        os.kill(proc.pid, signal.SIGCONT)
        try:
            proc.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            assert time.monotonic() < deadline, 'nsenter (PID %d) did not exit' % proc.pid
    deadline = time.monotonic() + 10
    while any(_stat(pid) for pid in stopped):
        assert time.monotonic() < deadline, 'killed processes still there'
        time.sleep(0.05)
    return len(stopped)


def start_play(world, variables, *args):
    """Start a play like :func:`play` would run it, in a session of its own, without output."""
    tmp = tempfile.mkdtemp(prefix='nslab-lab-')
    path = os.path.join(tmp, 'lab.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(dict({'lab_diagram_path': DIAGRAM, 'lab_install_packages': False}, **variables), handle)
    argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), PLAYBOOK, '-e', '@' + path] + list(args)
    # A killed run leaves Ansible's temporary files (the module's payload, the remote tmp)
    # behind: they go where finish_play removes them, not into this machine's /tmp and ~/.ansible.
    env = dict(ansible_env(), TMPDIR=tmp, ANSIBLE_LOCAL_TEMP=os.path.join(tmp, 'local'),
               ANSIBLE_REMOTE_TMP=os.path.join(tmp, 'remote'))
    proc = world.popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.tmp = tmp
    return proc


def finish_play(proc):
    try:
        if proc.poll() is None:
            proc.kill()
        return proc.wait(timeout=30)
    finally:
        shutil.rmtree(proc.tmp)


def timed_play(world, variables, *args, first, last):
    """How a play went, in seconds from its start: ``module`` (the module's process appeared),
    ``first`` and ``last`` (the predicates on the world, its first and last change, became
    true) and ``ended``. A moment not seen falls back on the one before or after it."""
    started = time.monotonic()
    proc = start_play(world, variables, *args)
    seen = {}
    try:
        while proc.poll() is None:
            now = time.monotonic() - started
            if 'module' not in seen and any(b'lab_network' in _cmdline(pid) for pid in _descendants(proc.pid)):
                seen['module'] = now
            if 'first' not in seen and first(world):
                seen['first'] = now
            if 'last' not in seen and last(world):
                seen['last'] = now
            time.sleep(0.01)
        seen['ended'] = time.monotonic() - started
    finally:
        assert finish_play(proc) == 0
    seen.setdefault('module', 0.0)
    seen.setdefault('first', seen['module'])
    seen.setdefault('last', seen['ended'])
    return seen


def _in_world(world, path):
    """``path`` as the world's host sees it (its /run and /sys are its own)."""
    return '/proc/%d/root%s' % (world.init_pid, path)


def lab_begun(world):
    return bool(os.listdir(_in_world(world, '/run/netns'))) or os.path.exists(_in_world(world, '/sys/class/net/br0'))


def lab_gone(world):
    return not lab_begun(world)


def service_running(world):
    """Whether ns1's service runs: a process of the world's PID namespace (under the module
    that starts it, or under the world's init once the module is gone) with its command."""
    try:
        world_pids = os.stat('/proc/%d/ns/pid' % world.init_pid).st_ino
    except OSError:
        return False
    for entry in os.listdir('/proc'):
        if entry.isdigit() and SERVICE_MARK.encode() in _cmdline(int(entry)).replace(b'\0', b' '):
            try:
                if os.stat('/proc/%s/ns/pid' % entry).st_ino == world_pids:
                    return True
            except OSError:
                pass
    return False


def service_gone(world):
    return not service_running(world)


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read()
    except OSError:
        return b''


def interrupted_play(world, variables, delay, *args):
    """Start a play and SIGKILL it after ``delay`` seconds; the number of processes killed
    (0 when it had ended)."""
    proc = start_play(world, variables, *args)
    try:
        time.sleep(delay)
        return 0 if proc.poll() is not None else kill_run(proc)
    finally:
        finish_play(proc)


def sweep_delays(runs):
    """SWEEP delays from timed runs: one while the controller prepares, one while the module
    reads and plans, one after its last change (it waits for the services, Ansible reports),
    and the rest spread over the time the module changes the host."""
    at = {key: sum(run[key] for run in runs) / len(runs) for key in runs[0]}
    work = SWEEP - 3
    return sorted([at['module'] / 2, (at['module'] + at['first']) / 2, (at['last'] + at['ended']) / 2] +
                  [at['first'] + (at['last'] - at['first']) * (step + 0.5) / work for step in range(work)])


@pytest.fixture(scope='module')
def sweep():
    """The delays of the sweeps, from two builds and teardowns of the seeds timed here, and the
    fresh build's state."""
    reference = fresh_state(DEFAULT, SEEDS)
    reference.result()
    builds, teardowns = [], []
    with World() as world:
        for unused in range(2):
            builds.append(timed_play(world, SEEDS, first=lab_begun, last=service_running))
            teardowns.append(timed_play(world, SEEDS, '-e', 'lab_state=absent', first=service_gone, last=lab_gone))
    return dict(build=sweep_delays(builds), teardown=sweep_delays(teardowns), reference=reference)


# A group runs on one pytest-xdist worker: the module fixture it shares is made once. The
# sweeps are slow: the everyday tier leaves them to CI.
@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
@pytest.mark.parametrize('step', range(SWEEP))
def test_a_build_killed_at_any_moment_is_finished_by_the_next_run(sweep, step):
    delay = sweep['build'][step]
    with World() as world:
        killed = interrupted_play(world, SEEDS, delay)
        print('build killed after %.2f s: %d processes' % (delay, killed))
        rerun = play(world, SEEDS)
        assert rerun.rc == 0 and rerun.failed == 0, 'killed %d processes after %.2f s\n%s' % (
            killed, delay, shown(rerun))
        unchanged(play(world, SEEDS))
        assert_same_state(world, sweep['reference'])
        assert processes(world, SERVICE_MARK) == [SERVICE]
        assert http_get(world, 'other', url(HOST_ADDRESS)) == OTHER_ADDRESS


@pytest.mark.slow
@pytest.mark.xdist_group('sweep')
@pytest.mark.parametrize('step', range(SWEEP))
def test_a_teardown_killed_at_any_moment_is_finished_by_the_next_one(sweep, step):
    delay = sweep['teardown'][step]
    with World() as world:
        pristine = snapshot(world)
        built(play(world, SEEDS))
        killed = interrupted_play(world, SEEDS, delay, '-e', 'lab_state=absent')
        print('teardown killed after %.2f s: %d processes' % (delay, killed))
        down = play(world, SEEDS, '-e', 'lab_state=absent')
        assert down.rc == 0 and down.failed == 0, 'killed %d processes after %.2f s\n%s' % (
            killed, delay, shown(down))
        same_host(pristine, snapshot(world))
        assert processes(world, SERVICE_MARK) == []
        assert not record_exists(world)
        unchanged(play(world, SEEDS, '-e', 'lab_state=absent'))


OVERLAY_SEEDS = lab(NS1, NS2, lab_overlay=OVERLAY)


@pytest.fixture(scope='module')
def overlay_sweep():
    """Delays for builds of the seeds with an overlay (one more task: the underlay's facts),
    from one timed build, and the fresh build's state."""
    reference = fresh_state(DEFAULT, OVERLAY_SEEDS)
    with World() as world:
        run = timed_play(world, OVERLAY_SEEDS, first=lab_begun, last=service_running)
    return dict(build=sweep_delays([run]), reference=reference)


@pytest.mark.slow
@pytest.mark.xdist_group('overlay-sweep')
@pytest.mark.parametrize('step', (1, 3, 5, 7))
def test_an_overlay_build_killed_at_any_moment_is_finished_then_torn_down(overlay_sweep, step):
    delay = overlay_sweep['build'][step]
    with World() as world:
        pristine = snapshot(world)
        killed = interrupted_play(world, OVERLAY_SEEDS, delay)
        print('overlay build killed after %.2f s: %d processes' % (delay, killed))
        rerun = play(world, OVERLAY_SEEDS)
        assert rerun.rc == 0 and rerun.failed == 0, 'killed %d processes after %.2f s\n%s' % (
            killed, delay, shown(rerun))
        unchanged(play(world, OVERLAY_SEEDS))
        assert_same_state(world, overlay_sweep['reference'])
        assert_torn_down(world, pristine, OVERLAY_SEEDS)
