# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seeds' lab with NAT and published ports, and the traffic probes the firewall tests use.

ns1 (10.0.0.1) and ns2 (10.0.0.2) on br0 (10.0.0.254/24) behind the world's host
(198.51.100.2). Servers answer with the client address they saw, so a probe tells both
whether it got through and whether it was masqueraded.
"""

from __future__ import annotations

import copy
import os
import sys
import time

from test_netlink_modules import PAIRS, seed_tasks

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'tools')
ECHO_HTTP = os.path.join(TOOLS, 'nslab_sandbox', 'echo_http.py')
PYTHON = sys.executable

# A UDP server that answers each datagram with the client address and logs it.
UDP_ECHO = r'''
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(2048)
    with open(sys.argv[3], "a") as log:
        log.write(peer[0] + "\n")
    sock.sendto(peer[0].encode(), peer)
'''

UDP_ASK = r'''
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(float(sys.argv[3]))
sock.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
try:
    print(sock.recvfrom(2048)[0].decode())
except socket.timeout:
    sys.exit(1)
'''


def lab_pairs():
    pairs = copy.deepcopy(PAIRS)
    for pair in pairs:
        pair['hairpin'] = True
    return pairs


def lab_tasks(backend='auto', publish=None, masquerade=None, state='present'):
    """The seeds' lab: namespaces, bridge, hairpin cables, NAT and published ports."""
    tasks = seed_tasks(state)
    if state == 'present':
        tasks[2]['nslab.net.veth']['pairs'] = lab_pairs()
    nat = dict({'bridge': 'br0', 'subnet': '10.0.0.0/24', 'backend': backend, 'state': state}, **(masquerade or {}))
    ports = {'publish': publish if publish is not None else [
        {'bridge': 'br0', 'destination': '10.0.0.1', 'ports': ['8000:8000']},
        {'bridge': 'br0', 'destination': '10.0.0.2', 'ports': ['5353:53/udp']},
    ], 'backend': backend, 'state': state}
    firewall = [{'name': 'NAT', 'nslab.net.nat_masquerade': nat},
                {'name': 'Published ports', 'nslab.net.port_publish': ports}]
    return tasks + firewall if state == 'present' else firewall[::-1] + tasks


def start_http(world, node, bind, port):
    """An echo HTTP server in ``node``, answering once this returns."""
    proc = world.popen([PYTHON, ECHO_HTTP, '--bind', bind, '--port', str(port)], node=node)
    wait_until(lambda: http_get(world, node, 'http://%s:%d/' % (bind, port), timeout=1) is not None,
               'HTTP server on %s:%d in %s' % (bind, port, node))
    return proc


def start_udp(world, node, bind, port, log):
    proc = world.popen([PYTHON, '-c', UDP_ECHO, bind, str(port), log], node=node)
    wait_until(lambda: udp_ask(world, node, bind, port, timeout=0.5) is not None,
               'UDP server on %s:%d in %s' % (bind, port, node))
    return proc


def wait_until(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError('%s did not come up within %.0f s' % (what, timeout))
        time.sleep(0.1)


def http_get(world, node, url, timeout=3):
    """The body the server answered (the client address it saw), or None."""
    proc = world.run(['curl', '-sS', '--fail', '-m', str(timeout), url], node=node, check=False,
                     timeout=timeout + 10)
    return proc.stdout.strip() if proc.returncode == 0 else None


def udp_ask(world, node, address, port, timeout=2):
    proc = world.run([PYTHON, '-c', UDP_ASK, address, str(port), str(timeout)], node=node, check=False,
                     timeout=timeout + 10)
    return proc.stdout.strip() if proc.returncode == 0 else None


def stop(*procs):
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)
