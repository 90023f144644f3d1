# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""converge_services end to end, under both managers, without systemd or a namespace.

systemd: systemctl answers with recorded output (fixtures/systemd), unit files live below
tmp_path. The process manager: records and logs live below tmp_path and only the spawn is
replaced; the "service" it spawns is this test process itself, whose namespace a symlink
below tmp_path names, so the real record and /proc checks prove it runs. Signalling a process
group fails the test: nothing here may stop a real process.
"""

from __future__ import annotations


import json
import os
import subprocess
import types

import pytest

from adapter_fakes import JOURNALCTL, SYSTEMCTL, FakeModule, answer, recorded

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._services import paths as service_paths
from ansible_collections.nslab.net.plugins.module_utils._services import processes
from ansible_collections.nslab.net.plugins.module_utils._services import systemd as systemd_manager
from ansible_collections.nslab.net.plugins.module_utils._services import tasks
from ansible_collections.nslab.net.plugins.module_utils._services.paths import record_path, unit_path
from ansible_collections.nslab.net.plugins.module_utils._services.unit_file import unit_text
from ansible_collections.nslab.net.plugins.module_utils._services.tasks import converge_services, service_spec

IP = '/usr/sbin/ip'
BINARIES = {'systemctl': SYSTEMCTL, 'journalctl': JOURNALCTL, 'ip': IP}
PROPERTIES = '--property=Id,LoadState,ActiveState,SubState,MainPID,NeedDaemonReload'
SHOW_BOTH = (SYSTEMCTL, 'show', PROPERTIES, '--', 'nslab-web.service', 'nslab-bad.service')
SHOW_WEB = (SYSTEMCTL, 'show', PROPERTIES, '--', 'nslab-web.service')
WEB = dict(netns='web', command='exec python3 -m http.server 8080')
BAD = dict(netns='bad', command='echo starting; exit 3')
WEB_PID = 326  # the main pid systemd reported for web in the VM


def params(*services, **more):
    return dict(dict(services=[dict(dict(name=None, chdir=None), **service) for service in services],
                     netns=None, command=None, name=None, chdir=None, manager='auto', state='present'), **more)


def run(module, *services, **more):
    return converge_services(module, service_spec(params(*services, **more)))


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Unit files, records and namespaces below tmp_path; no settling wait; no signals."""
    state_dir, unit_dir, netns_dir = tmp_path / 'state', tmp_path / 'units', tmp_path / 'netns'
    unit_dir.mkdir()
    netns_dir.mkdir()
    for name in ('web', 'bad'):
        # The process manager's service is this process: its namespace is "web" and "bad".
        os.symlink('/proc/%d/ns/net' % os.getpid(), str(netns_dir / name))
    for module in (service_paths, processes):
        monkeypatch.setattr(module, 'STATE_DIR', str(state_dir))
    monkeypatch.setattr(service_paths, 'UNIT_DIR', str(unit_dir))
    monkeypatch.setattr(processes, 'NETNS_RUN_DIR', str(netns_dir))
    monkeypatch.setattr(tasks, 'SETTLE_SECONDS', 0)
    monkeypatch.setattr(named_namespaces, 'status', lambda name: 'present' if name in ('web', 'bad') else 'absent')

    def refuse(pgid, sig):
        raise AssertionError('a test signalled process group %d' % pgid)

    monkeypatch.setattr(processes, 'kill_group', refuse)
    return tmp_path


@pytest.fixture
def under_systemd(host, monkeypatch):
    monkeypatch.setattr(tasks, 'booted', lambda: True)
    monkeypatch.setattr(systemd_manager, 'namespace_identity',
                        lambda path: ('nsfs', 'web' if path == '/proc/%d/ns/net' % WEB_PID else None))
    monkeypatch.setattr(systemd_manager, 'netns_identity', lambda netns: ('nsfs', netns))
    return host


@pytest.fixture
def without_systemd(host, monkeypatch):
    monkeypatch.setattr(tasks, 'booted', lambda: False)
    return host


class FakePopen:
    """The spawned service: this process, which ends at once with ``exit_status`` if given."""

    calls = []

    def __init__(self, argv, exit_status=None, output=b'', **kwargs):
        self.argv, self.kwargs, self.exit_status = argv, kwargs, exit_status
        self.pid = os.getpid()
        os.write(kwargs['stdout'], output)
        FakePopen.calls.append(self)

    def poll(self):
        return self.exit_status


@pytest.fixture
def spawns(monkeypatch):
    """Replace the spawn of ``ip netns exec``: each test says how the process behaves."""
    FakePopen.calls = []
    behaviour = {}

    def popen(argv, **kwargs):
        if 'error' in behaviour:
            raise behaviour['error']
        return FakePopen(argv, exit_status=behaviour.get('exit_status'), output=behaviour.get('output', b''), **kwargs)

    fake = types.SimpleNamespace(Popen=popen, DEVNULL=subprocess.DEVNULL, SubprocessError=subprocess.SubprocessError)
    monkeypatch.setattr(processes, 'subprocess', fake)
    return behaviour


def listing(path):
    return sorted(os.listdir(str(path))) if os.path.isdir(str(path)) else None


# --- arguments and the host, before anything is read


def test_bad_arguments_and_host_problems_fail_together_before_anything_is_read(without_systemd):
    module = FakeModule({}, BINARIES)
    with pytest.raises(TaskFailed) as failed:
        run(module, dict(name='web/1', netns='web', command='true'), dict(netns='gone', command='true'),
            dict(netns='bad', command=' ', chdir='relative/dir'), manager='systemd')
    assert failed.value.fields['problems'] == [
        "service 'web/1': service name 'web/1' may only contain letters, digits, '-', '_' and '.', at most 64 characters",
        "service 'bad': command is empty",
        "service 'bad': chdir 'relative/dir' is not an absolute path",
        'manager systemd: systemd is not the init system here (%s is not a directory); use manager: auto or process'
        % service_paths.UNIT_DIR,
        "service 'gone': namespace gone does not exist (create it first, e.g. with nslab.net.netns)",
    ]
    assert failed.value.fields['changed'] is False
    assert module.calls == [] and listing(without_systemd / 'state') is None


# --- systemd


def test_systemd_first_run_writes_reloads_restarts_and_reports_the_unit_that_died(under_systemd):
    module = FakeModule({(SYSTEMCTL, 'daemon-reload'): (0, '', ''),
                         (SYSTEMCTL, 'restart', '--', 'nslab-web.service'): (0, '', ''),
                         (SYSTEMCTL, 'restart', '--', 'nslab-bad.service'): (0, '', ''),
                         SHOW_BOTH: answer('systemd/show-started.stdout.txt'),
                         (JOURNALCTL, '--no-pager', '-o', 'cat', '-n', '15', '-u', 'nslab-bad.service'):
                             answer('systemd/journal-bad.stdout.txt')}, BINARIES)
    with pytest.raises(TaskFailed) as failed:
        run(module, WEB, BAD)
    assert module.argvs()[:3] == [(SYSTEMCTL, 'daemon-reload'), (SYSTEMCTL, 'restart', '--', 'nslab-web.service'),
                                  (SYSTEMCTL, 'restart', '--', 'nslab-bad.service')]
    fields = failed.value.fields
    assert fields['failed_services'] == ['bad'] and fields['changed'] is True and fields['manager'] == 'systemd'
    assert failed.value.msg.startswith('service bad is not running right after it started (activating auto-restart)')
    assert fields['services'] == [
        dict(name='web', netns='web', command=WEB['command'], chdir=service_paths.default_chdir('web'),
             manager='systemd', running=True),
        dict(name='bad', netns='bad', command=BAD['command'], chdir=service_paths.default_chdir('bad'),
             manager='systemd', running=False),
    ]
    for name in ('web', 'bad'):
        assert os.path.isdir(service_paths.default_chdir(name))
        with open(unit_path(name), encoding='utf-8') as handle:
            assert 'NetworkNamespacePath=/run/netns/%s\n' % name in handle.read()
    assert fields['commands'][-2:] == ['mkdir -p %s && systemctl restart nslab-web.service' % service_paths.default_chdir('web'),
                                       'mkdir -p %s && systemctl restart nslab-bad.service' % service_paths.default_chdir('bad')]


def test_systemd_check_run_predicts_running_units_and_touches_nothing(under_systemd):
    module = FakeModule({}, BINARIES)
    module.check_mode = True
    result = run(module, WEB, BAD)
    assert module.calls == [] and listing(under_systemd / 'units') == []
    assert result['changed'] is True and [s['running'] for s in result['services']] == [True, True]
    assert result['commands'][2] == 'systemctl daemon-reload'


def test_systemd_running_unit_with_its_file_unchanged_is_left_alone(under_systemd):
    spec = service_spec(params(WEB))
    with open(unit_path('web'), 'w', encoding='utf-8') as handle:
        handle.write(unit_text(spec['services'][0]))
    web_alone = recorded('systemd/show-started.stdout.txt').split('\n\n', maxsplit=1)[0] + '\n'
    module = FakeModule({SHOW_WEB: (0, web_alone, '')}, BINARIES)
    result = converge_services(module, spec)
    assert result['changed'] is False and result['commands'] == []
    assert module.argvs() == [SHOW_WEB]  # nothing to do: the first read is the report


def test_systemd_removal_resets_the_failed_unit_and_reloads_once(under_systemd):
    for service in service_spec(params(WEB, BAD))['services']:
        with open(unit_path(service['name']), 'w', encoding='utf-8') as handle:
            handle.write(unit_text(service))
    module = FakeModule({SHOW_BOTH: answer('systemd/show-stopped.stdout.txt'),
                         (SYSTEMCTL, 'reset-failed', '--', 'nslab-bad.service'): (0, '', ''),
                         (SYSTEMCTL, 'daemon-reload'): (0, '', '')}, BINARIES)
    result = run(module, dict(name='web'), dict(name='bad'), state='absent')
    assert module.argvs() == [SHOW_BOTH, (SYSTEMCTL, 'reset-failed', '--', 'nslab-bad.service'),
                              (SYSTEMCTL, 'daemon-reload')]
    assert listing(under_systemd / 'units') == []
    assert result['changed'] is True and result['services'] == []
    assert len(result['diff']['before']['services']) == 2


def test_systemd_refusing_a_step_fails_with_what_was_applied(under_systemd):
    module = FakeModule({(SYSTEMCTL, 'daemon-reload'): (0, '', ''),
                         (SYSTEMCTL, 'restart', '--', 'nslab-web.service'): answer('systemd/restart-removed.stderr.txt')},
                        BINARIES)
    with pytest.raises(TaskFailed) as failed:
        run(module, WEB)
    assert failed.value.msg.endswith('failed (exit status 5): Failed to restart nslab-web.service: Unit'
                                     ' nslab-web.service not found.')
    assert failed.value.fields['changed'] is True
    assert failed.value.fields['applied'] == failed.value.fields['commands'][:2]


# --- the process manager


def record_of(name):
    with open(record_path(name), encoding='utf-8') as handle:
        return json.load(handle)


def test_process_check_run_predicts_a_running_service_and_writes_nothing(without_systemd, spawns):
    module = FakeModule({}, BINARIES, check_mode=True)
    result = run(module, WEB)
    assert result['changed'] is True and result['manager'] == 'process'
    assert result['services'] == [dict(name='web', netns='web', command=WEB['command'],
                                       chdir=service_paths.default_chdir('web'), manager='process', running=True)]
    assert FakePopen.calls == [] and listing(without_systemd / 'state') is None


def test_process_start_spawns_ip_netns_exec_in_a_session_and_records_it(without_systemd, spawns):
    module = FakeModule({}, BINARIES)
    result = run(module, WEB)
    spawned, = FakePopen.calls
    chdir = service_paths.default_chdir('web')
    assert spawned.argv == [IP, 'netns', 'exec', 'web', '/bin/sh', '-c', WEB['command']]
    assert spawned.kwargs['cwd'] == chdir and os.path.isdir(chdir)
    assert spawned.kwargs['start_new_session'] is True
    token = record_of('web')['token']
    assert spawned.kwargs['env'] == dict(dict(PATH=processes.SERVICE_PATH, NSLAB_SERVICE='web:%s' % token),
                                         **({'LANG': os.environ['LANG']} if os.environ.get('LANG') else {}))
    assert record_of('web')['pid'] == os.getpid()
    assert result['changed'] is True and result['services'][0]['running'] is True
    assert result['diff']['before']['services'] == []


def test_process_service_that_runs_as_recorded_is_left_alone(without_systemd, spawns):
    run(FakeModule({}, BINARIES), WEB)
    FakePopen.calls = []
    result = run(FakeModule({}, BINARIES), WEB)
    assert result['changed'] is False and FakePopen.calls == []


def test_process_service_that_exits_at_once_fails_with_the_end_of_its_log(without_systemd, spawns):
    spawns.update(exit_status=2, output=b"python3: can't open file '/srv/app.py': [Errno 2] No such file or directory\n")
    with pytest.raises(TaskFailed) as failed:
        run(FakeModule({}, BINARIES), dict(WEB, command='python3 /srv/app.py'))
    assert failed.value.fields['failed_services'] == ['web']
    assert failed.value.msg == ("service web exited right after it started (exit status 2); the end of its log %s:\n"
                                "python3: can't open file '/srv/app.py': [Errno 2] No such file or directory"
                                % service_paths.log_path('web'))


def test_process_spawn_that_fails_leaves_no_record(without_systemd, spawns):
    spawns['error'] = OSError(2, 'No such file or directory')
    with pytest.raises(TaskFailed) as failed:
        run(FakeModule({}, BINARIES), WEB)
    assert failed.value.msg.endswith(': [Errno 2] No such file or directory')
    assert failed.value.fields['changed'] is False and failed.value.fields['applied'] == []
    assert not os.path.exists(record_path('web'))


def test_process_removal_of_a_service_whose_process_is_gone_only_removes_its_record(without_systemd, spawns):
    os.makedirs(processes.STATE_DIR)
    with open(record_path('web'), 'w', encoding='utf-8') as handle:
        json.dump(dict(netns='web', command=WEB['command'], chdir=service_paths.default_chdir('web'), pid=None,
                       start_time=None, token=None), handle)
    result = run(FakeModule({}, BINARIES), dict(name='web'), state='absent')
    assert result['changed'] is True and result['commands'] == ['rm -f %s' % record_path('web')]
    assert not os.path.exists(record_path('web')) and result['services'] == []
