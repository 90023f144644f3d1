# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role nslab.net.lab through ``ansible-playbook playbooks/lab.yml``, as a user runs it.

The playbook runs with the repository's ansible.cfg (the local inventory) and the system's
python3 on the target, where the role's package step finds python3-pyroute2 and
python3-iptables installed (scripts/bootstrap.sh installs the same packages).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile

import pytest
import yaml

from ansible_runs import REPO, VENV, ansible_env
from firewall_lab import ECHO_HTTP, http_get, start_http, stop
from nslab_sandbox import HOST_ADDRESS, INTERNET_ADDRESS, OTHER_ADDRESS, World
from nslab_sandbox.iptables_flavour import FLAVOURS

PLAYBOOK = os.path.join(REPO, 'playbooks', 'lab.yml')
RECAP = re.compile(r'^localhost\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
SNAPSHOT = ('import json, sys; sys.path.insert(0, %r); from nslab_sandbox import host_snapshot;'
            ' print(json.dumps(host_snapshot.snapshot()))' % os.path.join(REPO, 'tools'))
# The seeds' lab, with ns1's command an HTTP server that answers with the client address,
# so each probe shows both that it got through and the source address the server saw.
SEEDS = dict(
    lab_gateway='10.0.0.254',
    lab_namespaces=[
        dict(name='ns1', address='10.0.0.1', publish=['8000:8000'],
             command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
        dict(name='ns2', address='10.0.0.2')],
)
HOST_URL = 'http://%s:8000/' % HOST_ADDRESS
DIAGRAM = '/run/lab-diagram.md'  # the world's private /run: gone with the world


class Play:
    """One ``ansible-playbook playbooks/lab.yml`` run: its exit status, output and recap."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        found = RECAP.findall(proc.stdout)
        self.ok, self.changed, self.unreachable, self.failed = (int(n) for n in found[-1]) if found else (0,) * 4

    def __repr__(self):
        return self.output[-4000:]


def play(world, variables, *args, check=False):
    """Run the playbook with ``variables``; the diagram goes to the world's own /run."""
    with tempfile.TemporaryDirectory(prefix='nslab-lab-') as tmp:
        path = os.path.join(tmp, 'lab.yml')
        variables = dict({'lab_diagram_path': DIAGRAM, 'lab_install_packages': False}, **variables)
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(variables, handle)
        argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), PLAYBOOK, '-e', '@' + path] + list(args)
        if check:
            argv += ['--check', '--diff']
        result = Play(world.run(argv, check=False, env=ansible_env(), timeout=600))
    result.diagram = world.run(['cat', DIAGRAM], check=False).stdout
    return result


def built(result):
    assert result.rc == 0 and result.failed == 0, result
    return result


def snapshot(world):
    """The world host's links, addresses, routes, rules of both flavours, namespaces, forwarding."""
    return json.loads(world.run(['python3', '-c', SNAPSHOT]).stdout)


def without_empty_tables(state):
    """``state`` with iptables tables that hold nothing (built-in chains, ACCEPT, no rule) left out.

    iptables cannot delete a table: the first rule written creates the built-in tables, and
    they stay, empty, after the last rule is gone; legacy iptables creates them even to read
    them (a check run does). Empty tables filter nothing; the comparison takes them as the
    absent tables they were.
    """
    state = dict(state)
    for key, text in state.items():
        if key.startswith('firewall:ip') and text:
            tables = re.split(r'\n(?=\*)', text)
            state[key] = '\n'.join(t for t in tables if not re.fullmatch(
                r'\*\w+(\n:[A-Z]+ ACCEPT)*\nCOMMIT', t.strip()))
    return state


def reaches(world, node, address, count=1):
    return world.run(['ping', '-c', str(count), '-W', '2', address], node=node, check=False).returncode == 0


def addresses_of(world, netns):
    data = json.loads(world.run(['ip', '-j', '-n', netns, '-4', 'addr', 'show', 'dev', 'eth0']).stdout)
    return [a['local'] for link in data for a in link['addr_info']]


@pytest.fixture(params=FLAVOURS)
def lab_world(request):
    with World(iptables=request.param) as world:
        yield world


def test_seeds_lab_end_to_end(lab_world):
    world = lab_world
    pristine = snapshot(world)
    forward = world.run(['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.strip()

    # A check run on the empty host predicts changes and makes none.
    checked = built(play(world, SEEDS, '-e', 'lab_install_packages=true', check=True))
    assert checked.changed > 0
    assert without_empty_tables(snapshot(world)) == without_empty_tables(pristine)

    first = built(play(world, SEEDS, '-e', 'lab_install_packages=true'))
    assert first.changed > 0
    # The summary opens with the totals: lab, 1 network, 2 namespaces, 1 published port, 1 service.
    assert 'http://127.0.0.1:8000/ %s' % HOST_URL in first.output
    assert re.search(r'"lab +1 +2 +1 +1 +iptables %s"' % world.iptables, first.output), first
    assert 'ns_ns1 --- br_br0' in first.diagram

    # ns1's command answers, Docker-style, everywhere -p 8000:8000 promises; the play is over.
    assert http_get(world, 'host', 'http://127.0.0.1:8000/') == '10.0.0.254'
    assert http_get(world, 'host', HOST_URL) == HOST_ADDRESS
    assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS
    assert http_get(world, 'netns:ns2', HOST_URL) == '10.0.0.254'  # hairpin, from a sibling
    assert http_get(world, 'netns:ns1', HOST_URL) == '10.0.0.254'  # and from itself
    # Out to the internet, masqueraded behind the host's uplink address.
    assert reaches(world, 'netns:ns2', INTERNET_ADDRESS)
    assert http_get(world, 'netns:ns2', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS

    # A neighbour that routes the lab subnet via the host reaches only the published port.
    world.run(['ip', 'route', 'add', '10.0.0.0/24', 'via', HOST_ADDRESS], node='other')
    unpublished = start_http(world, 'netns:ns2', '10.0.0.2', 9000)
    try:
        assert http_get(world, 'netns:ns1', 'http://10.0.0.2:9000/') == '10.0.0.1'  # positive control
        assert http_get(world, 'other', HOST_URL) == OTHER_ADDRESS  # positive control
        assert http_get(world, 'other', 'http://10.0.0.2:9000/', timeout=2) is None
        assert http_get(world, 'other', 'http://10.0.0.1:8000/', timeout=2) is None
    finally:
        stop(unpublished)
    world.run(['ip', 'route', 'del', '10.0.0.0/24'], node='other')

    again = built(play(world, SEEDS, '-e', 'lab_install_packages=true'))
    assert again.changed == 0, again
    assert built(play(world, SEEDS, check=True)).changed == 0

    down = built(play(world, SEEDS, '-e', 'lab_state=absent'))
    assert down.changed > 0
    assert http_get(world, 'host', 'http://127.0.0.1:8000/', timeout=2) is None
    assert without_empty_tables(snapshot(world)) == without_empty_tables(pristine)
    assert world.run(['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.strip() == forward
    assert built(play(world, SEEDS, '-e', 'lab_state=absent')).changed == 0


TWO_NETWORKS = dict(
    lab_networks=[dict(name='front', bridge='br-front', subnet='10.10.0.0/24'),
                  dict(name='back', bridge='br-back', subnet='10.20.0.0/24', masquerade=False),
                  dict(name='quiet', bridge='br-quiet', subnet='10.30.0.0/24', icc=False)],
    lab_namespaces=[dict(name='web'), dict(name='api', networks=['front', 'back']),
                    dict(name='db', networks=['back']), dict(name='q1', networks=['quiet']),
                    dict(name='q2', networks=['quiet'])],
)


def test_networks_are_isolated_from_each_other():
    with World() as world:
        built(play(world, TWO_NETWORKS))
        # web 10.10.0.2; api 10.10.0.3 and 10.20.0.2; db 10.20.0.3; q1 10.30.0.2, q2 10.30.0.3
        assert reaches(world, 'netns:api', '10.20.0.3')           # api is on back too
        assert reaches(world, 'netns:web', '10.10.0.3')           # same network
        assert not reaches(world, 'netns:web', '10.20.0.3')       # another network
        assert not reaches(world, 'netns:db', '10.10.0.2')        # and the other way round
        assert reaches(world, 'netns:q1', '10.30.0.1')            # its gateway (positive control)
        assert not reaches(world, 'netns:q1', '10.30.0.3')        # icc=false on quiet
        # front is masqueraded to the internet; back is not, so no answer finds its way back.
        assert http_get(world, 'netns:web', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS
        assert http_get(world, 'netns:db', 'http://%s/' % INTERNET_ADDRESS, timeout=2) is None
        assert built(play(world, TWO_NETWORKS)).changed == 0


def test_allocated_addresses_are_stable_as_namespaces_come_and_go():
    with World() as world:
        names = [dict(name=n) for n in ('a', 'b', 'c')]
        built(play(world, dict(lab_namespaces=names)))
        assert [addresses_of(world, n) for n in 'abc'] == [['10.0.0.2'], ['10.0.0.3'], ['10.0.0.4']]
        # b goes and d comes in the same run: b's address is still b's while the run removes it.
        lab = [dict(name='d'), dict(name='a'), dict(name='b', state='absent'), dict(name='c')]
        built(play(world, dict(lab_namespaces=lab)))
        assert [addresses_of(world, n) for n in 'acd'] == [['10.0.0.2'], ['10.0.0.4'], ['10.0.0.5']]
        assert 'b' not in world.run(['ip', 'netns', 'list']).stdout.split()
        # Later arrivals take the lowest free address, and nobody else moves.
        built(play(world, dict(lab_namespaces=[dict(name='e')] + lab)))
        assert [addresses_of(world, n) for n in 'acde'] == [['10.0.0.2'], ['10.0.0.4'], ['10.0.0.5'], ['10.0.0.3']]


BAD = [
    (dict(lab_namespaces=[dict(name='a', address='10.0.0.9'), dict(name='b', address='10.0.0.9')]),
     'address 10.0.0.9 is given to both namespace a and namespace b'),
    (dict(lab_namespaces=[dict(name='a', address='192.168.1.1')]),
     'namespace a: address 192.168.1.1 is outside the subnet 10.0.0.0/24'),
    (dict(lab_namespaces=[dict(name='a', publish=['80:80']), dict(name='b', publish=['80:81'])]),
     'host port 80/tcp is published twice'),
    (dict(lab_namespaces=[dict(name='namespace-long')]),
     "interface name 'namespace-long-eth0' is longer than Linux allows"),
    (dict(lab_bridge='bridge-name-too-long'), "interface name 'bridge-name-too-long' is longer than Linux allows"),
    (dict(lab_namespaces=[dict(name='a', networks=['nowhere'])]), "network 'nowhere' is not one of the lab networks"),
    (dict(lab_namespaces=[dict(name='a', adress='10.0.0.5')]), 'adress'),
]


def test_bad_variables_fail_before_any_change():
    with World() as world:
        pristine = snapshot(world)
        for variables, message in BAD:
            result = play(world, dict(variables, lab_install_packages=True))
            assert result.rc != 0 and result.failed == 1, (variables, result)
            assert message in result.output, (message, result)
            assert result.changed == 0
        assert snapshot(world) == pristine


DIST_PACKAGES = '/usr/lib/python3/dist-packages'
# An empty directory over pyroute2's would still import (as a namespace package), so the
# directory of the system Python's packages is rebuilt on a tmpfs from bind mounts of every
# entry but pyroute2's.
HIDE_PYROUTE2 = r"""
set -e
mkdir -p /run/dist-packages.real
mount --bind {dist} /run/dist-packages.real
mount -t tmpfs tmpfs {dist}
for entry in /run/dist-packages.real/*; do
    name=${{entry##*/}}
    case $name in pyroute2|pyroute2-*|pr2modules|pr2modules-*) continue ;; esac
    if [ -d "$entry" ]; then mkdir "{dist}/$name"; else touch "{dist}/$name"; fi
    mount --bind "$entry" "{dist}/$name"
done
""".format(dist=DIST_PACKAGES)


def bare_interpreter(tmp_path):
    """A virtualenv Python without pyroute2, as a play's ansible_python_interpreter."""
    bare = tmp_path / 'bare'
    subprocess.run(['python3', '-m', 'venv', '--without-pip', str(bare)], check=True)
    return str(bare / 'bin' / 'python')


def test_an_interpreter_without_pyroute2_hands_the_module_to_the_system_python(tmp_path):
    """Like ansible.posix's selinux modules, the module runs again under the system Python
    that has the distribution's pyroute2 (which bootstrap.sh installs, as the role would)."""
    interpreter = bare_interpreter(tmp_path)
    with World() as world:
        # Positive control: the interpreter really lacks pyroute2, the system one has it.
        assert world.run([interpreter, '-c', 'import pyroute2'], check=False).returncode != 0
        world.run(['/usr/bin/python3', '-c', 'import pyroute2'])
        first = built(play(world, SEEDS, '-e', 'ansible_python_interpreter=%s' % interpreter))
        assert first.changed > 0 and 'lacks' not in first.output, first
        assert 'ns1' in world.run(['ip', 'netns', 'list']).stdout
        assert built(play(world, SEEDS, '-e', 'ansible_python_interpreter=%s' % interpreter)).changed == 0


def test_where_no_python_has_pyroute2_the_failure_names_the_interpreter_and_changes_nothing(tmp_path):
    """The role installs what lab_network reports missing and runs it again; where that does
    not help (no Python on the host can import pyroute2), the second run fails, naming the
    interpreter that lacks it."""
    interpreter = bare_interpreter(tmp_path)
    args = ('-e', 'ansible_python_interpreter=%s' % interpreter)
    with World() as world:
        # Only inside this world's mount namespace: the system Python loses its pyroute2.
        world.run(['sh', '-c', HIDE_PYROUTE2])
        assert world.run(['/usr/bin/python3', '-c', 'import pyroute2'], check=False).returncode != 0
        world.run(['/usr/bin/python3', '-c', 'import iptc, yaml'])  # the rest of dist-packages is still there
        pristine = snapshot(world)
        lacks = 'the Python interpreter %s on the host lacks pyroute2' % interpreter
        refused = play(world, SEEDS, *args)
        assert refused.rc != 0 and refused.failed == 1 and lacks in refused.output, refused
        assert 'Install iproute2, iptables' not in refused.output, refused
        retried = play(world, dict(SEEDS, lab_install_packages=True), *args)
        assert retried.rc != 0 and retried.failed == 1, retried
        assert 'TASK [nslab.net.lab : Install iproute2, iptables' in retried.output, retried
        assert retried.output.count('TASK [nslab.net.lab : The lab, in one task]') == 2, retried
        assert lacks in retried.output.rsplit('TASK [', 1)[-1], retried
        assert snapshot(world) == pristine
        # Positive control: the same lab with pyroute2 back builds.
        world.run(['umount', '-R', DIST_PACKAGES])
        assert built(play(world, SEEDS, *args)).changed > 0
