# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd manager of netns_service against recorded systemctl answers (fixtures/systemd).

systemctl and journalctl answer with what systemd 252 printed in a VM for the units
netns_service writes: ``web`` runs, ``bad`` exits 3 at once. The unit files live below
tmp_path; which namespace a main pid is in is a table of the test's, not /proc.
"""

from __future__ import annotations


import os
import stat

import pytest

from adapter_fakes import JOURNALCTL, SYSTEMCTL, FakeModule, answer, recorded

from ansible_collections.nslab.net.plugins.module_utils._services import paths as service_paths
from ansible_collections.nslab.net.plugins.module_utils._services import systemd as systemd_manager
from ansible_collections.nslab.net.plugins.module_utils._services.paths import default_chdir
from ansible_collections.nslab.net.plugins.module_utils._services.plan import ServiceStep, UnitState
from ansible_collections.nslab.net.plugins.module_utils._services.unit_file import unit_text
from ansible_collections.nslab.net.plugins.module_utils._services.processes import ServiceError
from ansible_collections.nslab.net.plugins.module_utils._services.systemd import Systemd, booted

PROPERTIES = '--property=Id,LoadState,ActiveState,SubState,MainPID,NeedDaemonReload'
SHOW_BOTH = (SYSTEMCTL, 'show', PROPERTIES, '--', 'nslab-web.service', 'nslab-bad.service')
SHOW_WEB = (SYSTEMCTL, 'show', PROPERTIES, '--', 'nslab-web.service')
JOURNAL_BAD = (JOURNALCTL, '--no-pager', '-o', 'cat', '-n', '15', '-u', 'nslab-bad.service')
COMMANDS = {'web': 'exec python3 -m http.server 8080', 'bad': 'echo starting; exit 3'}
WEB_PID = 326  # the main pid systemd reported for web in the VM


def spec(name):
    return dict(name=name, netns=name, command=COMMANDS[name], chdir=default_chdir(name), own_chdir=True)


def unit_block(fixture, unit):
    """One unit's block of a recorded show of several: what a show of that unit alone prints."""
    blocks = recorded(fixture).strip().split('\n\n')
    return [block for block in blocks if 'Id=%s\n' % unit in block + '\n'][0] + '\n'


@pytest.fixture
def units(tmp_path, monkeypatch):
    """The unit directory below tmp_path, and main pids in the namespaces of their services."""
    unit_dir = tmp_path / 'units'
    unit_dir.mkdir()
    monkeypatch.setattr(service_paths, 'UNIT_DIR', str(unit_dir))
    monkeypatch.setattr(service_paths, 'STATE_DIR', str(tmp_path / 'state'))
    inside = {WEB_PID: 'web'}
    monkeypatch.setattr(systemd_manager, 'namespace_identity',
                        lambda path: ('nsfs', inside.get(int(path.split('/')[2]))))
    monkeypatch.setattr(systemd_manager, 'netns_identity', lambda netns: ('nsfs', netns))
    return inside


def write_units(*names):
    for name in names:
        with open(service_paths.unit_path(name), 'w', encoding='utf-8') as handle:
            handle.write(unit_text(spec(name)))


def manager(commands, journalctl=JOURNALCTL):
    module = FakeModule(commands)
    return Systemd(module.run_command, SYSTEMCTL, journalctl), module


# --- show and read_units


def test_show_reads_one_block_per_unit_from_one_command():
    systemd, module = manager({SHOW_BOTH: answer('systemd/show-started.stdout.txt')})
    shown = systemd.show(['web', 'bad'])
    assert module.argvs() == [SHOW_BOTH]
    assert shown == {
        'nslab-web.service': dict(Id='nslab-web.service', LoadState='loaded', ActiveState='active',
                                  SubState='running', MainPID='326', NeedDaemonReload='no'),
        'nslab-bad.service': dict(Id='nslab-bad.service', LoadState='loaded', ActiveState='activating',
                                  SubState='auto-restart', MainPID='0', NeedDaemonReload='no'),
    }


def test_show_asks_in_batches(monkeypatch):
    monkeypatch.setattr(systemd_manager, 'SHOW_BATCH', 1)
    systemd, module = manager({
        SHOW_WEB: (0, unit_block('systemd/show-started.stdout.txt', 'nslab-web.service'), ''),
        (SYSTEMCTL, 'show', PROPERTIES, '--', 'nslab-bad.service'):
            (0, unit_block('systemd/show-started.stdout.txt', 'nslab-bad.service'), ''),
    })
    assert sorted(systemd.show(['web', 'bad'])) == ['nslab-bad.service', 'nslab-web.service']
    assert len(module.calls) == 2


def test_services_without_a_unit_file_have_no_unit_and_cost_no_systemctl(units):
    systemd, module = manager({})
    assert systemd.read_units(['web', 'bad']) == {'web': None, 'bad': None}
    assert module.calls == []


def test_a_running_unit_in_its_namespace_is_running(units):
    write_units('web', 'bad')
    systemd, unused = manager({SHOW_BOTH: answer('systemd/show-started.stdout.txt')})
    found = systemd.read_units(['web', 'bad'])
    assert found['web'] == UnitState('web', unit_text(spec('web')), 'active', WEB_PID, in_netns=True)
    assert found['web'].running and found['web'].described()['command'] == COMMANDS['web']
    # Exited, waiting to be restarted: no main process, not running.
    assert found['bad'] == UnitState('bad', unit_text(spec('bad')), 'activating', 0)
    assert not found['bad'].running


def test_a_unit_whose_namespace_was_made_again_does_not_run_in_it(units):
    units[WEB_PID] = 'an older namespace'
    write_units('web', 'bad')
    systemd, unused = manager({SHOW_BOTH: answer('systemd/show-started.stdout.txt')})
    web = systemd.read_units(['web', 'bad'])['web']
    assert web.active_state == 'active' and not web.in_netns and not web.running


def test_a_file_changed_under_a_running_unit_needs_a_reload(units):
    write_units('web')
    systemd, unused = manager({SHOW_WEB: answer('systemd/show-changed.stdout.txt')})
    web = systemd.read_units(['web'])['web']
    assert web.need_reload and web.running


@pytest.mark.parametrize('fixture, state', [
    ('systemd/show-written.stdout.txt', 'inactive'),
    ('systemd/show-reloaded.stdout.txt', 'inactive'),
    ('systemd/show-stopped.stdout.txt', 'failed'),
])
def test_units_written_reloaded_or_stopped_are_loaded_and_not_running(units, fixture, state):
    write_units('web', 'bad')
    systemd, unused = manager({SHOW_BOTH: answer(fixture)})
    found = systemd.read_units(['web', 'bad'])
    assert found['web'] == UnitState('web', unit_text(spec('web')), 'inactive', 0)
    assert found['bad'].active_state == state and not found['bad'].need_reload


def test_a_file_systemd_has_not_found_needs_a_reload(units):
    # A run killed between writing the file and daemon-reload, on a systemd that cached the
    # unit as not found before: show-missing was recorded before the files existed.
    write_units('web', 'bad')
    systemd, unused = manager({SHOW_BOTH: answer('systemd/show-missing.stdout.txt')})
    found = systemd.read_units(['web', 'bad'])
    assert found['web'].need_reload and found['bad'].need_reload


def test_a_failing_show_is_a_service_error():
    systemd, unused = manager({SHOW_WEB: (1, '', 'Failed to connect to bus: No such file or directory\n')})
    with pytest.raises(ServiceError, match=r'show .* failed \(exit status 1\): Failed to connect to bus'):
        systemd.show(['web'])


# --- apply


def test_write_unit_replaces_the_file_whole_and_readable(units):
    systemd, module = manager({})
    systemd.apply(ServiceStep('write_unit', 'web', text=unit_text(spec('web'))))
    path = service_paths.unit_path('web')
    with open(path, encoding='utf-8') as handle:
        assert handle.read() == unit_text(spec('web'))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(os.path.dirname(path)) == ['nslab-web.service']
    assert module.calls == []


def test_remove_unit_takes_a_file_that_is_already_gone(units):
    write_units('web')
    systemd, unused = manager({})
    systemd.apply(ServiceStep('remove_unit', 'web'))
    systemd.apply(ServiceStep('remove_unit', 'web'))
    assert not os.path.exists(service_paths.unit_path('web'))


@pytest.mark.parametrize('step, argv', [
    (ServiceStep('daemon_reload'), (SYSTEMCTL, 'daemon-reload')),
    (ServiceStep('stop_unit', 'web'), (SYSTEMCTL, 'stop', '--', 'nslab-web.service')),
    (ServiceStep('reset_failed', 'bad'), (SYSTEMCTL, 'reset-failed', '--', 'nslab-bad.service')),
    (ServiceStep('restart_unit', 'web', make_dir=None), (SYSTEMCTL, 'restart', '--', 'nslab-web.service')),
])
def test_each_systemd_step_is_one_systemctl_command(step, argv):
    systemd, module = manager({argv: (0, '', '')})
    systemd.apply(step)
    assert module.argvs() == [argv]


def test_a_restart_makes_the_service_directory_first(units):
    chdir = default_chdir('web')
    argv = (SYSTEMCTL, 'restart', '--', 'nslab-web.service')
    made = []
    systemd, unused = manager({argv: lambda called, kwargs: made.append(os.path.isdir(chdir)) or (0, '', '')})
    systemd.apply(ServiceStep('restart_unit', 'web', make_dir=chdir))
    assert made == [True]


@pytest.mark.parametrize('step, argv, fixture', [
    (ServiceStep('restart_unit', 'web', make_dir=None), (SYSTEMCTL, 'restart', '--', 'nslab-web.service'),
     'systemd/restart-removed.stderr.txt'),
    (ServiceStep('stop_unit', 'web'), (SYSTEMCTL, 'stop', '--', 'nslab-web.service'),
     'systemd/stop-removed.stderr.txt'),
    (ServiceStep('reset_failed', 'web'), (SYSTEMCTL, 'reset-failed', '--', 'nslab-web.service'),
     'systemd/reset-failed-web.stderr.txt'),
])
def test_a_refused_systemctl_command_is_a_service_error_with_its_message(step, argv, fixture):
    systemd, unused = manager({argv: answer(fixture)})
    with pytest.raises(ServiceError) as failed:
        systemd.apply(step)
    rc, unused, err = answer(fixture)
    assert str(failed.value) == '%s failed (exit status %d): %s' % (' '.join(argv), rc, err.strip())


# --- after a restart


def test_a_unit_that_does_not_run_after_its_start_is_reported_with_its_journal(units):
    write_units('web', 'bad')
    systemd, module = manager({SHOW_BOTH: answer('systemd/show-started.stdout.txt'),
                               JOURNAL_BAD: answer('systemd/journal-bad.stdout.txt')})
    failures = systemd.not_running(['web', 'bad'])
    assert [name for name, unused in failures] == ['bad']
    message = failures[0][1]
    assert message.startswith('service bad is not running right after it started (activating auto-restart);'
                              ' the end of its journal:\n')
    assert message.endswith(recorded('systemd/journal-bad.stdout.txt').strip())
    assert 'status=3/NOTIMPLEMENTED' in message
    assert module.argvs() == [SHOW_BOTH, JOURNAL_BAD]


def test_a_service_without_a_unit_file_after_its_start_is_not_running(units):
    systemd, unused = manager({JOURNAL_BAD: (0, '', '')}, journalctl=JOURNALCTL)
    assert systemd.not_running(['bad']) == [
        ('bad', 'service bad is not running right after it started (? ?); the end of its journal:\n(empty)')]


def test_the_journal_tail_says_why_it_is_missing():
    assert manager({}, journalctl=None)[0].journal_tail('bad') == '(journalctl not found)'
    systemd, unused = manager({JOURNAL_BAD: (1, '', 'No journal files were found.\n')})
    assert systemd.journal_tail('bad') == '(journalctl failed: No journal files were found.)'


def test_systemd_is_booted_where_its_runtime_unit_directory_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(systemd_manager, 'UNIT_DIR', str(tmp_path / 'systemd' / 'system'))
    assert not booted()
    os.makedirs(str(tmp_path / 'systemd' / 'system'))
    assert booted()
