# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netns_service through ansible-playbook, with real processes in a sandbox world.

The world has no systemd as init, so ``manager: auto`` is the process manager here. Every
claim that a service runs is checked with curl from inside its namespace after the playbook
has ended; every restart with the pid in its record.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
import time

import pytest
import yaml

from ansible_runs import REPO, TARGET_PYTHONS, VENV, ansible_env, run_tasks

pytestmark = pytest.mark.system

RECORD = '/run/nslab/services/%s.json'
SERVER = 'python3 -m http.server %d --bind 127.0.0.1'


def netns_task(names, state='present'):
    return {'name': 'Namespaces', 'nslab.net.netns': {'name': names, 'state': state, 'kill_processes': True}}


def service_task(services=None, state='present', **single):
    args = dict(single, state=state)
    if services is not None:
        args['services'] = services
    return {'name': 'Services', 'nslab.net.netns_service': args}


def failing(task):
    return dict(task, ignore_errors=True)


def fetch(world, netns, port, path='/'):
    """``(status, body)`` of an HTTP GET from inside ``netns``; status 0 when nothing answers."""
    proc = world.run(['ip', 'netns', 'exec', netns, 'curl', '-s', '--max-time', '3', '-o', '/dev/stdout',
                      '-w', '\n%{http_code}', 'http://127.0.0.1:%d%s' % (port, path)], check=False, timeout=20)
    body, status = proc.stdout.rsplit('\n', 1) if '\n' in proc.stdout else ('', proc.stdout)
    return (int(status) if status.isdigit() else 0), body


def answers(world, netns, port, timeout=5.0):
    """Whether the port answers, polling up to ``timeout`` (a server needs a moment to listen)."""
    deadline = time.monotonic() + timeout
    while True:
        if fetch(world, netns, port)[0] == 200:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def record(world, name):
    proc = world.run(['cat', RECORD % name], check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def alive(world, pid):
    proc = world.run(['sh', '-c', 'test -d /proc/%d && ! grep -q "^State:.Z" /proc/%d/status' % (pid, pid)],
                     check=False)
    return proc.returncode == 0


def wait_dead(world, pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while alive(world, pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def returned(result):
    return {key: result.get(key) for key in ('changed', 'services', 'commands', 'diff', 'manager')}


def test_service_lifecycle(world):
    web = {'netns': 'ns1', 'name': 'web', 'command': SERVER % 8000}
    tasks = [netns_task(['ns1']), service_task(**web)]

    predicted = run_tasks(world, tasks, check=True)[1]
    assert predicted['changed'] and not predicted.get('failed')
    assert world.run(['ls', '/run/netns']).stdout == '' and record(world, 'web') is None, 'check mode changed the host'

    applied = run_tasks(world, tasks)[1]
    assert applied['changed'] and applied['manager'] == 'process'
    assert applied['services'] == [dict(name='web', netns='ns1', command=SERVER % 8000,
                                        chdir='/run/nslab/services/web.d', manager='process', running=True)]
    assert applied['diff']['before'] == {'services': []}
    assert returned(predicted) == returned(applied), 'check mode predicted something else'
    # The playbook has ended; the server answers from inside the namespace.
    assert answers(world, 'ns1', 8000)
    first = record(world, 'web')
    assert first['netns'] == 'ns1' and first['log'] == '/run/nslab/services/web.log'
    # The default chdir is an empty directory: the host's files are not served.
    status, listing = fetch(world, 'ns1', 8000)
    assert status == 200 and 'etc/' not in listing and 'href' not in listing
    assert fetch(world, 'ns1', 8000, '/etc/hostname')[0] == 404
    # The root namespace of the world's host does not have it.
    assert world.run(['curl', '-s', '--max-time', '2', 'http://127.0.0.1:8000/'], check=False).returncode != 0

    again = run_tasks(world, tasks)[1]
    assert not again['changed'] and again['commands'] == []
    assert again['diff']['before'] == again['diff']['after'] == applied['diff']['after']
    assert record(world, 'web')['pid'] == first['pid']

    # A killed service is started again by the next run (the shell and the server it forked).
    world.run(['kill', '-KILL', '--', '-%d' % first['pid']])
    assert wait_dead(world, first['pid'])
    assert not answers(world, 'ns1', 8000, timeout=0)
    revived = run_tasks(world, tasks)[1]
    assert revived['changed'] and revived['diff']['before']['services'][0]['running'] is False
    second = record(world, 'web')
    assert second['pid'] != first['pid'] and answers(world, 'ns1', 8000)

    # A namespace deleted and made again under a running service: it is restarted inside the
    # new one, and the process left in the old one is stopped.
    world.sh('ip netns delete ns1 && ip netns add ns1 && ip -n ns1 link set lo up')
    assert not answers(world, 'ns1', 8000, timeout=0)
    moved = run_tasks(world, tasks)[1]
    assert moved['changed'] and answers(world, 'ns1', 8000)
    third = record(world, 'web')
    assert third['pid'] != second['pid'] and wait_dead(world, second['pid'], timeout=1)

    # A changed command restarts it: new pid, new port, the old one closed.
    web['command'] = SERVER % 8001
    changed = run_tasks(world, [service_task(**web)])[0]
    assert changed['changed'] and changed['commands'][0] == (
        'kill -TERM -- -%d; rm -f /run/nslab/services/web.json' % third['pid'])
    fourth = record(world, 'web')
    assert fourth['pid'] != third['pid'] and not alive(world, third['pid'])
    assert answers(world, 'ns1', 8001) and fetch(world, 'ns1', 8000)[0] == 0

    # absent, in check mode and then for real; the port answered just before (positive control).
    absent = [service_task(name='web', state='absent')]
    predicted = run_tasks(world, absent, check=True)[0]
    assert predicted['changed'] and record(world, 'web') is not None and answers(world, 'ns1', 8001)
    stopped = run_tasks(world, absent)[0]
    assert returned(stopped) == returned(predicted)
    assert stopped['changed'] and stopped['services'] == [] and stopped['diff']['after'] == {'services': []}
    assert record(world, 'web') is None and not alive(world, fourth['pid'])
    assert fetch(world, 'ns1', 8001)[0] == 0
    assert not run_tasks(world, absent)[0]['changed']


def test_many_services_chdir_and_children(world):
    world.sh('mkdir -p /run/site && echo hello from site >/run/site/hello.txt')
    services = [
        {'netns': 'ns1', 'name': 'site', 'command': SERVER % 8000, 'chdir': '/run/site'},
        # A shell that forks its server as a child: stopping it reaches the child too.
        {'netns': 'ns2', 'command': '%s & wait' % (SERVER % 8000)},
    ]
    results = run_tasks(world, [netns_task(['ns1', 'ns2']), service_task(services)])
    assert results[1]['changed']
    assert [s['name'] for s in results[1]['services']] == ['site', 'ns2']
    assert answers(world, 'ns1', 8000) and answers(world, 'ns2', 8000)
    assert fetch(world, 'ns1', 8000, '/hello.txt') == (200, 'hello from site\n')
    # The shell is the recorded process; kill it alone and leave its child behind.
    shell = record(world, 'ns2')['pid']
    world.run(['kill', '-KILL', str(shell)])
    assert wait_dead(world, shell) and answers(world, 'ns2', 8000), 'the child should outlive the shell'
    revived = run_tasks(world, [service_task(services)])[0]
    # The orphaned child (still holding the port) was stopped before the new start.
    assert revived['changed'] and revived['commands'][0].startswith('kill -TERM -- -%d;' % shell)
    assert answers(world, 'ns2', 8000) and record(world, 'ns2')['pid'] != shell
    stopped = run_tasks(world, [service_task([{'name': 'site'}, {'netns': 'ns2'}], state='absent')])[0]
    assert stopped['changed'] and stopped['services'] == []
    assert fetch(world, 'ns1', 8000)[0] == 0 and fetch(world, 'ns2', 8000)[0] == 0


def test_a_command_that_exits_at_once_fails_with_its_log(world):
    results = run_tasks(world, [netns_task(['ns1']),
                                failing(service_task(netns='ns1', command='python3 -m http.servr 8000'))])
    result = results[1]
    assert result.get('failed') and result['changed']
    assert 'service ns1 exited right after it started (exit status 1)' in result['msg']
    assert 'No module named http.servr' in result['msg']
    assert result['services'][0]['running'] is False


def test_bad_input_fails_naming_every_value_and_changes_nothing(world):
    services = [
        {'netns': 'ns1', 'name': 'bad/name', 'command': 'true'},
        {'netns': 'ns1', 'name': 'nocmd'},
        {'netns': 'ns1', 'name': 'rel', 'command': 'true', 'chdir': 'srv'},
        {'netns': 'nsmissing', 'command': 'true'},
    ]
    results = run_tasks(world, [netns_task(['ns1']), failing(service_task(services))])
    result = results[1]
    assert result.get('failed') and not result['changed']
    assert result['problems'] == [
        "service 'bad/name': service name 'bad/name' may only contain letters, digits, '-', '_' and "
        "'.', at most 64 characters",
        "service 'nocmd': command is required with state=present",
        "service 'rel': chdir 'srv' is not an absolute path",
        "service 'nsmissing': namespace nsmissing does not exist (create it first, e.g. with "
        "nslab.net.netns)",
    ]
    assert world.run(['ls', '/run/nslab/services'], check=False).stdout == ''
    # In check mode the missing namespace is one an earlier task would create.
    predicted = run_tasks(world, [service_task(netns='nslater', command='true')], check=True)[0]
    assert predicted['changed'] and not predicted.get('failed')
    # systemd is not init in the world: asking for it fails, naming why.
    refused = run_tasks(world, [failing(service_task(netns='ns1', command='true', manager='systemd'))])[0]
    assert refused.get('failed') and 'systemd is not the init system' in refused['msg']


# -- a run killed while it starts services ------------------------------------------------

# Runs inside the world's host: starts ansible-playbook in a session of its own, waits for the
# service's own directory (the first thing the start makes), then SIGKILLs the playbook DELAY
# seconds later: its process group and those of its workers, which Ansible makes session
# leaders (the module runs in its worker's group; the service it spawns is in a session of
# its own and lives on). With DELAY null the run ends by itself and the report says when the
# record was written. No sleeping in the polls near the start: the window is milliseconds wide.
KILLER = r"""
import json, os, signal, subprocess, sys, time
args = json.loads(sys.argv[1])
record, chdir, delay = args['record'], args['chdir'], args['delay']
def phase():
    try:
        with open(record) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return 'none'
    return 'final' if data.get('pid') else 'intent'
def stat(pid):
    with open('/proc/%d/stat' % pid) as handle:
        text = handle.read()
    fields = text[text.rfind(')') + 2:].split()
    return int(fields[1]), int(fields[2]), int(fields[3])
def worker_groups(controller):
    # The controller's children that lead sessions: its workers. Read from its threads' lists
    # of children, a few small files, so the kill follows the start within a fraction of a ms.
    groups = []
    for thread in os.listdir('/proc/%d/task' % controller):
        try:
            with open('/proc/%d/task/%s/children' % (controller, thread)) as handle:
                children = [int(child) for child in handle.read().split()]
        except OSError:
            continue
        for child in children:
            try:
                if stat(child)[2] == child:
                    groups.append(child)
            except (OSError, IndexError):
                continue
    return groups
def members(groups):
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                if stat(int(entry))[1] in groups:
                    found.append(int(entry))
            except (OSError, IndexError):
                continue
    return found
proc = subprocess.Popen(args['argv'], env=args['env'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True)
deadline = time.monotonic() + args['limit']
while not os.path.exists(args['netns']) and proc.poll() is None and time.monotonic() < deadline:
    time.sleep(0.01)
while not os.path.isdir(chdir) and proc.poll() is None and time.monotonic() < deadline:
    pass
began = time.monotonic()
report = {}
if not os.path.isdir(chdir):
    report['failed'] = True
    delay = 0
if delay is None:
    while 'final' not in report and time.monotonic() < deadline:
        seen = phase()
        if seen != 'none' and seen not in report:
            report[seen] = time.monotonic() - began
    report.setdefault('intent', report.get('final'))
else:
    groups = [proc.pid] + worker_groups(proc.pid)
    while time.monotonic() < began + delay:
        pass
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    report['killed'] = time.monotonic() - began
    report['groups'] = len(groups)
report['returncode'] = proc.wait(timeout=args['limit'])
if delay is not None:
    while members(groups) and time.monotonic() < deadline:
        time.sleep(0.01)
report['phase'] = phase()
mark = ('NSLAB_SERVICE=%s:' % args['name']).encode()
report['spawned'] = False
for entry in os.listdir('/proc'):
    if entry.isdigit():
        try:
            with open('/proc/%s/environ' % entry, 'rb') as handle:
                report['spawned'] = report['spawned'] or any(item.startswith(mark) for item in handle.read().split(b'\0'))
        except OSError:
            pass
print(json.dumps(report))
"""

# Runs inside the world's host: for each service name, its processes by service_pids, and for
# each namespace, the processes inside it with their command lines.
INSPECT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._services import processes
names, namespaces = json.loads(sys.argv[2])
owned = processes.service_pids(names)
inside = {}
for netns, pids in named_namespaces.processes_in(namespaces).items():
    inside[netns] = {}
    for pid in pids:
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                inside[netns][pid] = handle.read().replace(b'\0', b' ').decode().strip()
        except OSError:
            pass
print(json.dumps(dict(owned=dict((name, sorted(pids)) for name, pids in owned.items()), inside=inside)))
"""


def inspect(world, names, namespaces=()):
    """``(owned, inside)``: service_pids of ``names``; ``{netns: {pid: command line}}``."""
    proc = world.run([TARGET_PYTHONS['pyroute2-0.9'], '-c', INSPECT, os.path.join(VENV, 'collections'),
                      json.dumps([list(names), list(namespaces)])])
    found = json.loads(proc.stdout)
    return ({name: set(pids) for name, pids in found['owned'].items()},
            {netns: {int(pid): command for pid, command in pids.items()}
             for netns, pids in found['inside'].items()})


def killed_run(world, tasks, name, netns, delay):
    """Run ``tasks`` with ansible-playbook and SIGKILL it ``delay`` s after service ``name``
    began to start (None: let it end); return the killer's report (see KILLER)."""
    with tempfile.TemporaryDirectory(prefix='nslab-killed-') as tmp:
        path = os.path.join(tmp, 'play.yml')
        playbook = [{'hosts': 'localhost', 'gather_facts': False,
                     'vars': {'ansible_python_interpreter': TARGET_PYTHONS['pyroute2-0.9']}, 'tasks': tasks}]
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(playbook, handle, sort_keys=False)
        env = ansible_env()
        # A killed run leaves its temporary files: in the world's /run, which goes with it.
        # The module's own payload directory follows TMPDIR.
        env.update(ANSIBLE_REMOTE_TMP='/run/nslab-test-ansible/remote',
                   ANSIBLE_LOCAL_TEMP='/run/nslab-test-ansible/local', TMPDIR='/run')
        args = dict(argv=[os.path.join(VENV, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path],
                    env=env, netns='/run/netns/%s' % netns, chdir='/run/nslab/services/%s.d' % name,
                    record=RECORD % name, name=name, delay=delay, limit=120)
        proc = world.run([sys.executable, '-c', KILLER, json.dumps(args)], timeout=180, cwd=REPO)
    report = json.loads(proc.stdout)
    assert not report.get('failed'), 'the run never began to start %s' % name
    return report


def servers(commands):
    """The pids of ``{pid: command line}`` that are http.server itself (not its shell)."""
    return [pid for pid, command in commands.items() if command.startswith('python3 -m http.server')]


def test_a_run_killed_at_any_instant_of_a_start_leaves_one_service_the_next_run_knows(world):
    """SIGKILL the playbook at a sweep of instants across the start of a service (before the
    intent record, between it and the spawn, between the spawn and the pid in the record,
    after); the next run must find what was started: exactly one server per namespace,
    ``commands`` naming only what it changed, and a teardown that nothing blocks."""
    def tasks(names):
        return [netns_task(names), service_task([{'netns': name, 'command': SERVER % 8000} for name in names])]

    # How long a start takes here, from its directory to the record with the pid in it.
    calibration = [killed_run(world, tasks([name]), name, name, None) for name in ('cal0', 'cal1')]
    assert all(report['returncode'] == 0 and report['phase'] == 'final' for report in calibration), calibration
    duration = max(report['final'] for report in calibration)
    assert duration < 5, calibration

    # Ten instants across the start; while none fell between the spawn and the record (the
    # window is about a millisecond), up to ten more at the instants between those.
    names, reports = [], {}
    while len(names) < 10 or (len(names) < 20 and not any(
            report['phase'] == 'intent' and report['spawned'] for report in reports.values())):
        n = len(names)
        name = 'k%d' % n
        names.append(name)
        delay = duration * (n / 9.0 if n < 10 else (n - 9.5) / 10.0)
        reports[name] = killed_run(world, tasks([name]), name, name, delay)
        assert reports[name]['returncode'] == -9 and reports[name]['groups'] >= 2, reports[name]
    before = {name: record(world, name) for name in names}
    owned, inside = inspect(world, names, names)
    for name in names:
        # Whatever the instant, what runs in the namespace is the service's, found by pid or
        # (the record still without a pid) by token, and there is one server at most.
        assert set(inside[name]) == owned[name], (name, reports[name], inside[name])
        assert len(servers(inside[name])) <= 1, inside[name]
    recorded = [name for name in names if before[name] and before[name]['pid'] in owned[name]]
    unrecorded = [name for name in names if before[name] and not before[name]['pid'] and owned[name]]
    # Shown with a failure (pytest prints what a failed test wrote), or with pytest -s.
    print('calibration: %s' % calibration)
    print('start %.4f s; killed at %s' % (duration, ['%.4f' % reports[name]['killed'] for name in names]))
    print('phases %s' % [reports[name]['phase'] for name in names])
    print('recorded: %s; started but not recorded: %s' % (recorded, unrecorded))
    assert unrecorded == [name for name in names if reports[name]['phase'] == 'intent' and reports[name]['spawned']]
    assert unrecorded, 'no kill fell between the spawn and the record'

    rerun = run_tasks(world, tasks(names))[1]
    assert not rerun.get('failed'), rerun.get('msg')
    now_owned, now_inside = inspect(world, names, names)
    for name in names:
        assert len(servers(now_inside[name])) == 1 and set(now_inside[name]) == now_owned[name], (
            name, now_inside[name])
        assert answers(world, name, 8000), name
        now = record(world, name)
        mine = [command for command in rerun['commands'] if RECORD % name in command
                or ' ip netns exec %s ' % name in command]
        if name in recorded:
            assert mine == [] and now['pid'] == before[name]['pid'], (name, reports[name], mine)
        elif name in unrecorded:
            # Started by the killed run: recorded now, the same process, not started again.
            assert mine == ['echo %s >%s' % (shlex.quote(json.dumps(now, sort_keys=True)), RECORD % name)], mine
            assert now['token'] == before[name]['token'] and now_owned[name] == owned[name]
        else:
            # Nothing was spawned: started now (an intent record left behind is replaced).
            assert mine[-1].startswith('mkdir -p /run/nslab/services/%s.d && ' % name), (name, mine)
            assert now['pid'] not in owned[name]
    assert rerun['changed'] == bool(rerun['commands'])
    again = run_tasks(world, tasks(names))[1]
    assert not again['changed'], again['commands']

    # The teardown: services absent, then the namespaces, which refuse while anything runs inside.
    everything = names + ['cal0', 'cal1']
    teardown = run_tasks(world, [service_task([{'name': name} for name in everything], state='absent'),
                                 failing({'name': 'Namespaces',
                                          'nslab.net.netns': {'name': everything, 'state': 'absent'}})])
    assert teardown[0]['changed'] and not teardown[1].get('failed'), teardown[1].get('msg')
    assert world.run(['ls', '/run/netns']).stdout == ''
    assert world.run(['pgrep', '-f', 'http.server'], check=False).stdout == ''


def test_service_pids_tell_the_services_processes_from_others_in_a_namespace(world):
    """What the lab asks before it deletes namespaces: the service's shell and the children it
    forked belong to it; a process started in the namespace by someone else does not."""
    command = 'sleep 1000 & %s & wait' % (SERVER % 8000)
    run_tasks(world, [netns_task(['ns1', 'ns2']), service_task(name='web', netns='ns1', command=command)])
    assert answers(world, 'ns1', 8000)
    foreign = world.popen(['sleep', '999'], node='netns:ns1')
    try:
        deadline = time.monotonic() + 5
        while True:
            owned, inside = inspect(world, ['web', 'other'], ['ns1', 'ns2'])
            if any(command == 'sleep 999' for command in inside['ns1'].values()) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        shell = record(world, 'web')['pid']
        by_command = {command: pid for pid, command in inside['ns1'].items()}
        # The positive control: the foreign sleep runs in ns1, where service_pids leaves it out.
        assert set(by_command) == {'/bin/sh -c ' + command, 'sleep 1000', SERVER % 8000, 'sleep 999'}, by_command
        assert owned == {'web': {shell, by_command['sleep 1000'], by_command[SERVER % 8000]}, 'other': set()}
        assert set(inside['ns1']) - owned['web'] == {by_command['sleep 999']} and inside['ns2'] == {}

        # The shell killed alone: its children are still the service's (its group's), until
        # the service is stopped.
        world.run(['kill', '-KILL', str(shell)])
        assert wait_dead(world, shell)
        owned, inside = inspect(world, ['web'], ['ns1'])
        assert owned['web'] == {by_command['sleep 1000'], by_command[SERVER % 8000]}
        stopped = run_tasks(world, [service_task(name='web', state='absent')])[0]
        assert stopped['changed'] and stopped['commands'][0].startswith('kill -TERM -- -%d;' % shell)
        owned, inside = inspect(world, ['web'], ['ns1'])
        assert owned == {'web': set()} and set(inside['ns1'].values()) == {'sleep 999'}
    finally:
        foreign.kill()
        foreign.wait(timeout=10)
