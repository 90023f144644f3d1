# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edits that move an address, neighbours that know at once, one run per lab at a time.

An edit that gives an address of one namespace to another (a rename, a swap, a move between
networks) converges in one run: the run counts what it removes itself as free. Whoever talked
to the old holder (a neighbour namespace, the host) reaches the new one on the first ping,
since the new interface announces its address (gratuitous ARP), each time after a positive
control that its cache held the old MAC. Two runs of one lab at once take turns on the lab's
lock; a run killed holding it frees it; a run that cannot get it in time changes nothing.

The edits share one world per iptables flavour, in sequence: each starts from the lab the
one before left, and each ends equal to a fresh build of its variables (a reference world
built in the background, as in test_lab_lifecycle).
"""

from __future__ import annotations

import json
import time

import pytest

from firewall_lab import ECHO_HTTP, http_get
from nslab_sandbox import HOST_ADDRESS, OTHER_ADDRESS, World
from nslab_sandbox.iptables_flavour import FLAVOURS
from test_lab_lifecycle import (
    SERVICE_MARK, assert_same_state, assert_torn_down, built, converged, finish_play, fresh_state,
    kill_run, shown, start_play, unchanged)
from test_lab_role import SEEDS, play, snapshot
from lab_state import processes

pytestmark = pytest.mark.system

SERVER = 'exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP
GATEWAY = SEEDS['lab_gateway']


def lab(*namespaces, **variables):
    return dict(dict(SEEDS, **variables), lab_namespaces=list(namespaces))


def ns(name, address, **more):
    return dict(dict(name=name, address=address), **more)


SEEDS_LAB = lab(ns('ns1', '10.0.0.1', publish=['8000:8000'], command=SERVER), ns('ns2', '10.0.0.2'))
# ns1 renamed web, with its address, port and server.
RENAMED = lab(ns('web', '10.0.0.1', publish=['8000:8000'], command=SERVER), ns('ns2', '10.0.0.2'))
# web and ns2 swap addresses.
SWAPPED = lab(ns('web', '10.0.0.2', publish=['8000:8000'], command=SERVER), ns('ns2', '10.0.0.1'))
# The published port (and a server) moves from web to ns2.
PORT_MOVED = lab(ns('web', '10.0.0.2', command=SERVER), ns('ns2', '10.0.0.1', publish=['8000:8000'], command=SERVER))
# ns2 moves to a network of its own, and ns3 takes its old address on br0.
NETWORK_MOVED = dict(
    lab_networks=[dict(name='br0', subnet='10.0.0.0/24', gateway=GATEWAY),
                  dict(name='back', subnet='10.20.0.0/24', gateway='10.20.0.254')],
    lab_namespaces=[ns('web', '10.0.0.2', publish=['8000:8000'], command=SERVER),
                    dict(name='ns2', networks=[dict(network='back', address='10.20.0.2')]),
                    ns('ns3', '10.0.0.1')])


def neighbour_mac(world, node_args, address):
    """The MAC ``ip neigh`` of a node (``[]`` for the host, ``['-n', NS]``) holds for ``address``."""
    entries = json.loads(world.run(['ip', '-j'] + node_args + ['neigh', 'show', address]).stdout or '[]')
    return entries[0].get('lladdr') if entries else None


def mac_of(world, netns, interface='eth0'):
    return json.loads(world.run(['ip', '-j', '-n', netns, 'link', 'show', 'dev', interface]).stdout)[0]['address']


def first_ping(world, node, address):
    """One ping with a one-second timeout: answered only if the sender's cache is right already."""
    return world.run(['ping', '-c', '1', '-W', '1', address], node=node, check=False).returncode == 0


def warm(world, pairs):
    """Ping each ``(node, address)`` so that its neighbour cache holds the address's MAC now."""
    for node, address in pairs:
        assert world.run(['ping', '-c', '1', '-W', '2', address], node=node, check=False).returncode == 0, (node, address)


def assert_neighbours_follow(world, checks):
    """``checks``: ``(node, ip args, address, old MAC, new holder namespace)``. Each cache held
    ``old MAC`` before the edit (the control); the first ping after it is answered, and the
    cache then holds the new holder's MAC."""
    for node, args, address, old, holder in checks:
        new = mac_of(world, holder)
        assert old != new, (node, address)
        assert first_ping(world, node, address), '%s: first ping to %s after the edit got no answer' % (node, address)
        assert neighbour_mac(world, args, address) == new, (node, address)


def edit(world, flavour, variables, caches):
    """Warm ``caches`` (``(node, ip args, address)``), run ``variables`` twice (changed, then
    not), compare with a fresh build; return the checks for :func:`assert_neighbours_follow`
    with the MACs from before the edit."""
    reference = fresh_state(flavour, variables)
    warm(world, [(node, address) for node, unused, address in caches])
    old = [(node, args, address, neighbour_mac(world, args, address)) for node, args, address in caches]
    assert all(mac for unused, unused2, unused3, mac in old), old  # the control: each cache is warm
    converged(play(world, variables))
    unchanged(play(world, variables))
    assert_same_state(world, reference, 'fresh build of the edit')
    return old


HOST = ('host', [])
NS2 = ('netns:ns2', ['-n', 'ns2'])


@pytest.mark.parametrize('flavour', FLAVOURS)
def test_edits_that_move_addresses_converge_in_one_run_and_neighbours_follow_at_once(flavour):
    with World(iptables=flavour) as world:
        pristine = snapshot(world)
        built(play(world, SEEDS_LAB))
        # Renamed: web takes ns1's address in the run that deletes ns1.
        old = edit(world, flavour, RENAMED, [NS2 + ('10.0.0.1',), HOST + ('10.0.0.1',)])
        assert_neighbours_follow(world, [entry + ('web',) for entry in old])
        assert http_get(world, 'other', 'http://%s:8000/' % HOST_ADDRESS) == OTHER_ADDRESS
        assert http_get(world, 'netns:ns2', 'http://web:8000/') == '10.0.0.2'  # by its new name
        # Swapped: each takes the other's address.
        # (Each of the two held the other's address as its own: the host is the neighbour.)
        old = edit(world, flavour, SWAPPED, [HOST + ('10.0.0.1',), HOST + ('10.0.0.2',)])
        assert_neighbours_follow(world, [entry + (holder,) for entry, holder in zip(old, ['ns2', 'web'])])
        assert http_get(world, 'netns:ns2', 'http://10.0.0.2:8000/') == '10.0.0.1'
        # The published port moves to ns2: the host's port 8000 now reaches ns2's server.
        converged(play(world, PORT_MOVED))
        unchanged(play(world, PORT_MOVED))
        assert http_get(world, 'netns:web', 'http://%s:8000/' % HOST_ADDRESS) is not None  # hairpin
        assert http_get(world, 'other', 'http://%s:8000/' % HOST_ADDRESS) == OTHER_ADDRESS
        assert sorted(processes(world, SERVICE_MARK)) == [SERVER[5:]] * 2
        # ns2 moves to another network and ns3 takes its address on br0.
        old = edit(world, flavour, NETWORK_MOVED, [('netns:web', ['-n', 'web'], '10.0.0.1'), HOST + ('10.0.0.1',)])
        assert_neighbours_follow(world, [entry + ('ns3',) for entry in old])
        assert first_ping(world, 'host', '10.20.0.2')
        assert not first_ping(world, 'netns:web', '10.20.0.2')  # another network (the control: web reaches ns3)
        # Deleted by hand and repaired: ns3's new interface announces itself too.
        warm(world, [('netns:web', '10.0.0.1'), ('host', '10.0.0.1')])
        old = [('netns:web', ['-n', 'web'], '10.0.0.1', neighbour_mac(world, ['-n', 'web'], '10.0.0.1')),
               HOST + ('10.0.0.1', neighbour_mac(world, [], '10.0.0.1'))]
        world.run(['ip', 'netns', 'delete', 'ns3'])
        converged(play(world, NETWORK_MOVED))
        assert_neighbours_follow(world, [entry + ('ns3',) for entry in old])
        assert_torn_down(world, pristine, NETWORK_MOVED)


# -- one run per lab at a time ---------------------------------------------------------------

LOCK = '/run/nslab/labs/lab.lock'
BIGGER = lab(ns('ns1', '10.0.0.1', publish=['8000:8000'], command=SERVER), ns('ns2', '10.0.0.2'),
             *[dict(name='ns%d' % index) for index in range(3, 9)])


def plays_at_once(world, *labs, args=()):
    """Start a run of each of ``labs`` at the same moment; their exit statuses."""
    procs = [start_play(world, variables, *args) for variables in labs]
    deadline = time.monotonic() + 300
    while any(proc.poll() is None for proc in procs):
        assert time.monotonic() < deadline, 'the runs did not end'
        time.sleep(0.1)
    return [finish_play(proc) for proc in procs]


def lock_held(world):
    """Whether a process of the world holds the lab's lock (its line in /proc/locks)."""
    found = world.run(['sh', '-c', 'test -e %s && grep -c ":$(stat -c %%i %s) " /proc/locks' % (LOCK, LOCK)],
                      check=False)
    return found.returncode == 0 and found.stdout.strip() not in ('', '0')


@pytest.mark.parametrize('flavour', FLAVOURS)
def test_runs_of_one_lab_at_once_take_turns_and_a_killed_or_timed_out_run_leaves_it_whole(flavour):
    with World(iptables=flavour) as world:
        pristine = snapshot(world)
        # Two identical runs at once: both succeed (the second plans against what the first
        # made), and the lab is exactly one lab.
        assert plays_at_once(world, SEEDS_LAB, SEEDS_LAB) == [0, 0]
        unchanged(play(world, SEEDS_LAB))
        assert_same_state(world, fresh_state(flavour, SEEDS_LAB))
        # Two different declarations at once: both succeed, one after the other; the record
        # holds everything either made, so one teardown removes it all.
        assert plays_at_once(world, SEEDS_LAB, BIGGER) == [0, 0]
        last = json.loads(world.run(['cat', '/run/nslab/labs/lab.json']).stdout)
        assert sorted(last['namespaces']) in (['ns1', 'ns2'], ['ns%d' % index for index in range(1, 9)])
        # A run killed while it holds the lock: the kernel frees it, the next run goes at once.
        proc = start_play(world, BIGGER)
        deadline = time.monotonic() + 60
        while not lock_held(world):
            assert proc.poll() is None and time.monotonic() < deadline, 'the run never held the lock'
            time.sleep(0.01)
        kill_run(proc)
        finish_play(proc)
        started = time.monotonic()
        built(play(world, BIGGER, '-e', 'lab_lock_timeout=2'))
        assert time.monotonic() - started < 30
        # A run that cannot get the lock in time fails, says who holds it, and changes nothing.
        holder = world.popen(['flock', LOCK, 'sleep', '60'])
        try:
            deadline = time.monotonic() + 10
            while not lock_held(world):
                assert time.monotonic() < deadline, 'flock did not take the lock'
                time.sleep(0.01)
            before = snapshot(world)
            refused = play(world, SEEDS_LAB, '-e', 'lab_lock_timeout=1')
            assert refused.rc != 0 and refused.changed == 0, shown(refused)
            assert 'lab lab is being changed by another run (pid' in refused.output, shown(refused)
            assert '(flock %s sleep 60)' % LOCK in refused.output, shown(refused)
            assert 'for more than 1 s; nothing was changed' in refused.output, shown(refused)
            assert snapshot(world) == before
        finally:
            holder.kill()
            holder.wait(timeout=10)
        # A check run waits for nobody when no run holds the lock, and changes nothing.
        unchanged(play(world, BIGGER, check=True))
        assert_torn_down(world, pristine, {})
        assert world.run(['test', '-e', LOCK], check=False).returncode != 0  # gone with the lab
