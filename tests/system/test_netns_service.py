# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""netns_service through ansible-playbook, with real processes in a sandbox world.

The world has no systemd as init, so ``manager: auto`` is the process manager here. Every
claim that a service runs is checked with curl from inside its namespace after the playbook
has ended; every restart with the pid in its record.
"""

from __future__ import annotations

import json
import time

import pytest

from ansible_runs import run_tasks

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
