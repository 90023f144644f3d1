# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The process manager's ownership proofs: the token of a start whose run died before its
record, and which processes belong to which service.

The pure parts get texts; the adapter gets real processes of this test (in sessions of their
own, killed at the end by their group id) and records in a temporary directory. No root.
"""

from __future__ import annotations


import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from ansible_collections.nslab.net.plugins.module_utils._services import paths as service_paths
from ansible_collections.nslab.net.plugins.module_utils._services import processes as service_processes
from ansible_collections.nslab.net.plugins.module_utils._services.identity import (
    cgroup_units, environ_mark, record_fields, record_text, service_mark, service_members, token_leader, valid_token)

TOKEN = 'a' + uuid.uuid4().hex[1:]


@pytest.fixture(autouse=True)
def unique_token():
    """A token of its own for each test: the processes a test starts are found by their token in
    /proc, where a killed group of the test before (not reaped yet) or of another pytest-xdist
    worker may still be. It starts with a letter, so that its upper case is not a valid token."""
    global TOKEN  # pylint: disable=global-statement  # the tests read the module's name
    TOKEN = 'a' + uuid.uuid4().hex[1:]


OTHER = 'fedcba9876543210fedcba9876543210'


# -- pure ---------------------------------------------------------------------------------

def test_the_mark_is_read_from_an_environment_block():
    assert service_mark('web', TOKEN) == 'web:' + TOKEN
    block = b'PATH=/bin\0NSLAB_SERVICE=web:' + TOKEN.encode() + b'\0LANG=C\0'
    assert environ_mark(block) == 'web:' + TOKEN
    # The first assignment counts (getenv); a name that only ends in it is another variable.
    assert environ_mark(b'NSLAB_SERVICE=a:1\0NSLAB_SERVICE=b:2\0') == 'a:1'
    assert environ_mark(b'X_NSLAB_SERVICE=web:1\0') is None
    assert environ_mark(b'') is None and environ_mark(b'NSLAB_SERVICE=\xff\0') is None
    assert valid_token(TOKEN) and not valid_token('') and not valid_token(None)
    assert not valid_token('../../etc') and not valid_token(TOKEN.upper())


def test_the_token_names_the_session_of_the_oldest_holder():
    assert token_leader([]) is None
    # The leader (pid 100, session 100) and its children.
    assert token_leader([(101, 100, 51), (100, 100, 50), (102, 100, 52)]) == 100
    # The leader is gone or shows another environment: its children still name its session.
    assert token_leader([(102, 100, 52), (101, 100, 51)]) == 100
    # A child started in the same clock tick: the session leader wins the tie.
    assert token_leader([(101, 100, 50), (100, 100, 50)]) == 100
    # A descendant that made a session of its own is younger than the leader.
    assert token_leader([(300, 300, 70), (100, 100, 50)]) == 100


CGROUP_V2 = '0::/system.slice/nslab-web.service\n'
CGROUP_V1 = ('12:pids:/system.slice/nslab-web.service\n'
             '3:cpu,cpuacct:/system.slice/nslab-web.service/child\n'
             '1:name=systemd:/system.slice/nslab-web.service\n')


def test_cgroup_units():
    assert cgroup_units(CGROUP_V2) == {'nslab-web.service'}
    assert cgroup_units(CGROUP_V1) == {'nslab-web.service'}
    assert cgroup_units('0::/user.slice/user-0.slice/session-3.scope\n') == set()
    assert cgroup_units('0::/\n') == set() and cgroup_units('') == set()


def test_members_by_group_and_by_unit():
    processes = [(100, 100, None), (101, 100, None), (200, 200, None),
                 (300, 1, CGROUP_V2), (301, 1, '0::/system.slice/nslab-webx.service\n')]
    assert service_members(processes, {100: 'web'}, {}) == {'web': {100, 101}}
    assert service_members(processes, {}, {'nslab-web.service': 'web', 'nslab-db.service': 'db'}) == {
        'web': {300}, 'db': set()}
    assert service_members(processes, {100: 'web'}, {'nslab-web.service': 'web'}) == {'web': {100, 101, 300}}


# -- the adapter, against real processes ------------------------------------------------

@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(service_paths, 'STATE_DIR', str(tmp_path))
    return tmp_path


@pytest.fixture
def spawn():
    """Start ``sh -c SCRIPT`` in a session of its own with the given environment; every group
    started is killed at the end (by its id, which the leader's pid is)."""
    groups = []

    def start(script, env=None):
        proc = subprocess.Popen(['/bin/sh', '-c', script], env=dict(env or {}, PATH=os.environ['PATH']),
                                stdin=subprocess.DEVNULL, start_new_session=True)
        groups.append(proc)
        return proc

    yield start
    for proc in groups:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.01)


def children(pid):
    with open('/proc/%d/task/%d/children' % (pid, pid)) as handle:
        return [int(child) for child in handle.read().split()]


def write_record(state_dir, name, token, pid=None, start_time=None):
    fields = record_fields(name, 'ns1', 'sleep 60', '/srv', token, pid, start_time)
    (state_dir / ('%s.json' % name)).write_text(record_text(fields))


def marked(name, token):
    return {'NSLAB_SERVICE': service_mark(name, token)}


def test_a_record_without_pid_is_completed_by_the_token(state_dir, spawn):
    proc = spawn('exec sleep 60', marked('web', TOKEN))
    spawn('exec sleep 60', marked('web', OTHER))  # a start of another run: not this record's
    wait_for(lambda: environ_mark(open('/proc/%d/environ' % proc.pid, 'rb').read()) is not None)
    write_record(state_dir, 'web', TOKEN)
    write_record(state_dir, 'db', OTHER.replace('f', '0'))  # its process never started
    records = service_processes.read_records(['web', 'db', 'none'])
    web = records['web']
    assert (web.pid, web.start_time) == (proc.pid, service_processes.proc_stat(proc.pid).start_time)
    assert web.pending and web.alive and web.token == TOKEN
    assert not web.in_netns  # no namespace ns1 here
    db = records['db']
    assert db.pending and db.pid is None and not db.alive and not db.leftovers
    assert records['none'] is None
    # A completed record is read as before, without the token scan.
    write_record(state_dir, 'web', TOKEN, proc.pid, web.start_time)
    web = service_processes.read_records(['web'])['web']
    assert not web.pending and web.alive and web.pid == proc.pid


def test_a_leader_without_the_token_in_its_environment_is_found_by_its_session(state_dir, spawn):
    # The child keeps the token; the leader replaces its environment (as a program that sets
    # its process title overwrites it), so only its session names it.
    proc = spawn('sleep 60 & exec env -i sleep 61', marked('web', TOKEN))
    wait_for(lambda: open('/proc/%d/cmdline' % proc.pid).read().startswith('sleep\0'))
    write_record(state_dir, 'web', TOKEN)
    web = service_processes.read_records(['web'])['web']
    assert web.pid == proc.pid and web.alive
    assert web.start_time == service_processes.proc_stat(proc.pid).start_time


def test_a_dead_leader_found_by_its_childrens_token_leaves_its_group_as_leftovers(state_dir, spawn):
    proc = spawn('sleep 60 & echo started', marked('web', TOKEN))
    proc.wait(timeout=10)  # the leader exited and is reaped; its child lives on in its group
    write_record(state_dir, 'web', TOKEN)
    web = service_processes.read_records(['web'])['web']
    assert (web.pid, web.start_time, web.alive, web.leftovers) == (proc.pid, None, False, True)
    assert service_processes._ours(web.pid, web.start_time)  # pylint: disable=protected-access


def test_service_pids_are_the_group_of_a_proven_record(state_dir, spawn):
    service = spawn('sleep 60 & sleep 61 & wait', marked('web', TOKEN))
    foreign = spawn('exec sleep 62')
    wait_for(lambda: len(children(service.pid)) == 2)
    start = service_processes.proc_stat(service.pid).start_time
    write_record(state_dir, 'web', TOKEN, service.pid, start)
    found = service_processes.service_pids(['web', 'db'], systemd=False)
    assert found == {'web': {service.pid} | set(children(service.pid)), 'db': set()}
    assert foreign.pid not in found['web']
    # The same pid with another start time is not the service's: nothing of it is counted.
    write_record(state_dir, 'web', TOKEN, service.pid, start + 1)
    assert service_processes.service_pids(['web'], systemd=False) == {'web': set()}
    # Pending: found by the token.
    write_record(state_dir, 'web', TOKEN)
    assert service_processes.service_pids(['web'], systemd=False)['web'] == {service.pid} | set(children(service.pid))


def test_service_pids_with_systemd_reads_cgroups_of_processes(state_dir, spawn):
    proc = spawn('exec sleep 60')
    # Whatever cgroup this test runs in, it is no nslab unit's: nothing is counted.
    assert service_processes.service_pids(['web'], systemd=True) == {'web': set()}
    assert proc.poll() is None


def test_stop_removes_a_pending_record_and_signals_only_the_found_group(state_dir, spawn):
    from ansible_collections.nslab.net.plugins.module_utils._services.plan import ServiceStep
    proc = spawn('sleep 60 & wait', marked('web', TOKEN))
    wait_for(lambda: len(children(proc.pid)) == 1)
    write_record(state_dir, 'web', TOKEN)
    records = service_processes.read_records(['web'])
    service_processes.stop([ServiceStep('stop_process', 'web', pid=records['web'].pid)], records)
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert not (state_dir / 'web.json').exists()


def test_a_completed_record_is_written_as_the_step_says(state_dir):
    from ansible_collections.nslab.net.plugins.module_utils._services.plan import ServiceStep
    text = record_text(record_fields('web', 'ns1', 'sleep 60', '/srv', TOKEN, 4242, 777))
    service_processes.complete_record(ServiceStep('record_process', 'web', pid=4242, start_time=777, text=text))
    assert json.loads((state_dir / 'web.json').read_text())['pid'] == 4242
    assert [path.name for path in state_dir.iterdir()] == ['web.json']
