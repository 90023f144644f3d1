# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readers behind the lab's host checks, run in the world's host as lab_network runs them.

Sockets: real listeners in the world's host are found, exactly those, with their process.
nat rules: Docker's published port (and another lab's) are found on both iptables flavours,
and the checks turn them, and docker0's network, into the messages a lab gets.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess

import pytest

from nslab_sandbox import World
from nslab_sandbox.docker_host import DOCKER_LINES, make_docker_like

pytestmark = pytest.mark.system

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(REPO, '.venv', 'bin', 'python')
# The repository is importable as ansible_collections.nslab.net from there (scripts/bootstrap.sh).
COLLECTIONS = os.path.join(REPO, '.venv', 'collections')
MODULE_UTILS = 'ansible_collections.nslab.net.plugins.module_utils'

# Binds, says who it is, and lives two minutes at most; the test kills it before.
LISTENER = r'''
import os, socket, sys, time
stream = sys.argv[1] == 'tcp'
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if stream else socket.SOCK_DGRAM)
sock.bind((sys.argv[2], int(sys.argv[3])))
if stream:
    sock.listen(5)
with open('/proc/self/comm') as handle:
    print('%s (pid %d)' % (handle.read().strip(), os.getpid()), flush=True)
time.sleep(120)
'''

# Holds a TCP connection to 127.0.0.1:9000 and a connected UDP socket: clients, not listeners.
CLIENT = r'''
import socket, time
tcp = socket.create_connection(('127.0.0.1', 9000), timeout=10)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.connect(('127.0.0.1', 5353))
print('connected', flush=True)
time.sleep(120)
'''

READ_SOCKETS = r'''
import json
from %s._lab.collision_readers import listening_sockets
print(json.dumps([list(listener) for listener in listening_sockets()]))
''' % MODULE_UTILS

# What lab_network does: its AnsibleModule, the backend it resolved, the nat rules, the host's
# links, then the checks against a lab that publishes Docker's port, another lab's and its own.
CHECK_HOST = r'''
import json
from ansible.module_utils import basic
basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': {}}).encode()
basic._ANSIBLE_PROFILE = 'legacy'  # how ansible-core 2.19 decodes the arguments
module = basic.AnsibleModule(argument_spec={})
from %(mu)s._firewall.backends import detect_backend
from %(mu)s._lab.collision_readers import nat_ruleset
from %(mu)s._lab.collisions import foreign_published, host_collisions
from %(mu)s._lab.spec import lab_spec
from %(mu)s._netlink.model import describe
from %(mu)s._netlink.adapter import Netlink
backend = detect_backend(module)
found = foreign_published(nat_ruleset(module, backend), own_bridges=['br0'])
with Netlink() as netlink:
    host_state = dict(host=describe(netlink.read_views([None])[None]), namespaces={})
spec = lab_spec(dict(state='present', networks=[], bridge='br0', subnet='172.17.128.0/24', gateway=None,
                     uplink=None, masquerade=True, icc=True,
                     namespaces=[dict(name='ns1', publish=['8080:80', '7000:7000', '8000:8000', '9000:9000'])]))
messages = host_collisions(spec, host_state, owned_bridges=['br0'], other_labs={'br1': 'shop'}, foreign=found)
print(json.dumps(dict(backend=backend, messages=messages,
                      found=[[f.proto, f.first, f.last, f.line, f.bridge, f.address] for f in found])))
''' % dict(mu=MODULE_UTILS)

# Another lab's published port and this lab's own, as port_publish writes them.
LAB_RULES = [
    ['iptables', '-t', 'nat', '-N', 'NSLAB-DNAT'],
    ['iptables', '-t', 'nat', '-A', 'NSLAB-DNAT', '-p', 'tcp', '-m', 'tcp', '--dport', '7000', '-m', 'comment',
     '--comment', 'nslab:publish:br1:10.1.0.2', '-j', 'DNAT', '--to-destination', '10.1.0.2:7000'],
    ['iptables', '-t', 'nat', '-A', 'NSLAB-DNAT', '-p', 'tcp', '-m', 'tcp', '--dport', '8000', '-m', 'comment',
     '--comment', 'nslab:publish:br0:10.0.0.2', '-j', 'DNAT', '--to-destination', '10.0.0.2:8000'],
]


def legacy_tables(world):
    return world.run(['sh', '-c', 'cat /proc/net/ip_tables_names 2>/dev/null || true']).stdout.split()


def in_world(world, code):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return json.loads(world.run([PYTHON, '-c', code], env=env, timeout=60).stdout)


def start(world, argv):
    """A process in the world's host that prints one line when ready; returns it and the line."""
    proc = world.popen(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=15)
    line = proc.stdout.readline().decode().strip() if ready else ''
    if not line:
        proc.kill()
        proc.wait(timeout=10)
        pytest.fail('%s did not start' % argv)
    return proc, line


def test_listening_sockets_finds_exactly_the_hosts_listeners_and_their_processes(world):
    before = in_world(world, READ_SOCKETS)
    procs = []
    try:
        expected = []
        for proto, address, port in (('tcp', '0.0.0.0', 8000), ('tcp', '127.0.0.1', 9000), ('udp', '0.0.0.0', 5353)):
            proc, who = start(world, [PYTHON, '-c', LISTENER, proto, address, str(port)])
            procs.append(proc)
            expected.append([proto, address, port, who])
        procs.append(start(world, [PYTHON, '-c', CLIENT])[0])
        found = in_world(world, READ_SOCKETS)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
    assert before == []
    assert sorted([proto, address, port, who] for proto, address, port, unused, who in found) == sorted(expected)
    assert in_world(world, READ_SOCKETS) == []


@pytest.mark.parametrize('flavour', ('nft', 'legacy'))
def test_foreign_published_finds_dockers_port_and_another_labs_on_both_flavours(flavour):
    with World(iptables=flavour) as world:
        make_docker_like(world)
        for argv in LAB_RULES:
            world.run(argv)
        tables = legacy_tables(world)
        result = in_world(world, CHECK_HOST)
        # python-iptables would open (so create) every table it knows without LegacyTables' guard.
        assert legacy_tables(world) == tables
    docker_rule = [line for line in DOCKER_LINES['nat'] if '-j DNAT' in line][0]
    assert result['backend'] == flavour
    assert result['found'] == [
        ['tcp', 8080, 8080, docker_rule, None, None],
        ['tcp', 7000, 7000, '-A NSLAB-DNAT -p tcp -m tcp --dport 7000 -m comment --comment nslab:publish:br1:10.1.0.2'
         ' -j DNAT --to-destination 10.1.0.2:7000', 'br1', '10.1.0.2'],
    ]
    assert result['messages'] == [
        'network br0: subnet 172.17.128.0/24 overlaps 172.17.0.0/16, the network of docker0 on the host'
        ' (172.17.0.1/16); the host would no longer know which way to send it',
        'namespace ns1: host port 7000/tcp is already published by lab shop (bridge br1)',
        'namespace ns1: host port 8080/tcp is already published by the nat rule %s' % docker_rule,
    ]


def test_reading_a_legacy_host_without_a_nat_table_creates_none():
    with World(iptables='legacy') as world:
        tables = legacy_tables(world)
        assert 'nat' not in tables  # the precondition: a host whose nat table nobody has used
        result = in_world(world, CHECK_HOST)
        after = legacy_tables(world)
    assert result['found'] == [] and result['backend'] == 'legacy'
    assert after == tables
