# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planning for netns_service: validation, restart decisions, the unit file and its quoting."""

from __future__ import annotations


import json
import shlex
import shutil
import subprocess

import pytest

from ansible_collections.nslab.net.plugins.module_utils._services.plan import (
    Observed, ProcessRecord, ServiceStep, UnitState, plan_services, report_services, simulate_services)
from ansible_collections.nslab.net.plugins.module_utils._services.spec import (
    choose_manager, host_problems, parse_services)
from ansible_collections.nslab.net.plugins.module_utils._services.unit_file import (
    systemd_quote, unit_metadata, unit_text)

WEB = dict(netns='ns1', command='python3 -m http.server 8000', name='web', chdir=None)


def specs_of(*items, state='present'):
    specs, problems = parse_services([dict(item) for item in items], state)
    assert problems == []
    return specs


def running_record(spec, **changes):
    values = dict(netns=spec['netns'], command=spec['command'], chdir=spec['chdir'], pid=4242,
                  start_time=777, alive=True, in_netns=True)
    values.update(changes)
    return ProcessRecord(spec['name'], **values)


def ops(steps):
    return [(step.op, step.name) for step in steps]


# -- validation ---------------------------------------------------------------------------

def test_name_defaults_to_netns_and_chdir_to_an_own_empty_directory():
    (spec,) = specs_of(dict(netns='ns1', command='sleep 100'))
    assert spec == dict(name='ns1', netns='ns1', command='sleep 100',
                        chdir='/run/nslab/services/ns1.d', own_chdir=True)
    (spec,) = specs_of(dict(WEB, chdir='/srv/www'))
    assert spec['chdir'] == '/srv/www' and spec['own_chdir'] is False


def test_every_problem_of_every_item_is_reported_naming_the_value():
    items = [
        dict(netns=None, command='x', name=None, chdir=None),
        dict(netns='ns1', command=None, name='web', chdir='srv/www'),
        dict(netns='ns 2', command='  ', name='bad/name', chdir=None),
        dict(netns='ns3', command='x', name='web', chdir=None),
        dict(netns='ns4', command='x', name='a' * 65, chdir=None),
        dict(netns='ns5', command='x', name='.hidden', chdir='/srv/\nx'),
    ]
    problems = parse_services(items, 'present')[1]
    assert problems == [
        'service #1: netns is required',
        "service 'web': command is required with state=present",
        "service 'web': chdir 'srv/www' is not an absolute path",
        "service 'bad/name': service name 'bad/name' may only contain letters, digits, '-', '_' and "
        "'.', at most 64 characters",
        "service 'bad/name': namespace name 'ns 2' may not contain white space",
        "service 'bad/name': command is empty",
        "service %r: service name %r may only contain letters, digits, '-', '_' and '.', at most 64 "
        "characters" % ('a' * 65, 'a' * 65),
        "service '.hidden': service name '.hidden' may not start with a dot",
        "service '.hidden': chdir '/srv/\\nx' contains a control character",
        "service name 'web' is listed twice",
    ]


def test_the_default_name_is_checked_too():
    problems = parse_services([dict(netns='ns@1', command='x')], 'present')[1]
    assert problems == ["service 'ns@1': service name 'ns@1' may only contain letters, digits, '-', "
                        "'_' and '.', at most 64 characters"]


def test_absent_needs_only_a_name_or_a_netns():
    specs, problems = parse_services([dict(name='web'), dict(netns='ns2')], 'absent')
    assert problems == [] and [s['name'] for s in specs] == ['web', 'ns2']
    assert parse_services([dict(chdir='/x')], 'absent')[1] == [
        'service #1: give netns (or, with state=absent, name)']


def test_missing_namespace_and_directory_fail_a_real_run_but_not_check_mode():
    specs = specs_of(WEB, dict(netns='ns2', command='x', chdir='/srv/none'))
    namespaces = {'ns1': False, 'ns2': True}
    directories = {'/srv/none': False}
    assert host_problems(specs, 'present', 'auto', False, namespaces, directories, False) == [
        "service 'web': namespace ns1 does not exist (create it first, e.g. with nslab.net.netns)",
        "service 'ns2': chdir /srv/none is not a directory"]
    assert host_problems(specs, 'present', 'auto', False, namespaces, directories, True) == []
    assert host_problems(specs, 'absent', 'auto', False, namespaces, directories, False) == []


def test_manager_systemd_without_systemd_is_refused_and_auto_picks_by_init():
    assert 'systemd is not the init system' in host_problems([], 'present', 'systemd', False, {}, {}, True)[0]
    assert host_problems([], 'present', 'systemd', True, {}, {}, False) == []
    assert choose_manager('auto', True) == 'systemd'
    assert choose_manager('auto', False) == 'process'
    assert choose_manager('process', True) == 'process'


# -- process manager ----------------------------------------------------------------------

def test_a_new_service_is_started_with_the_equivalent_shell_command():
    specs = specs_of(WEB)
    steps = plan_services(specs, 'present', 'process', {'web': Observed()})
    assert steps == [ServiceStep('start_process', 'web', netns='ns1', command=WEB['command'],
                                 chdir='/run/nslab/services/web.d', own_chdir=True)]
    assert steps[0].as_command() == (
        'mkdir -p /run/nslab/services/web.d && cd /run/nslab/services/web.d && ip netns exec ns1 '
        "setsid /bin/sh -c 'python3 -m http.server 8000' </dev/null "
        '>>/run/nslab/services/web.log 2>&1 &')


def test_a_running_equal_service_needs_nothing():
    specs = specs_of(WEB)
    assert plan_services(specs, 'present', 'process', {'web': Observed(running_record(specs[0]))}) == []


@pytest.mark.parametrize('change', [
    dict(command='python3 -m http.server 9000'),
    dict(chdir='/srv'),
    dict(netns='ns9'),
    dict(in_netns=False),  # the namespace was deleted and made again
])
def test_a_changed_or_displaced_service_is_stopped_then_started(change):
    specs = specs_of(WEB)
    record = running_record(specs[0], **change)
    steps = plan_services(specs, 'present', 'process', {'web': Observed(record)})
    assert ops(steps) == [('stop_process', 'web'), ('start_process', 'web')]
    assert steps[0].as_command() == 'kill -TERM -- -4242; rm -f /run/nslab/services/web.json'


def test_a_dead_service_is_started_and_only_its_own_leftovers_are_killed():
    specs = specs_of(WEB)
    dead = running_record(specs[0], alive=False, in_netns=False)
    steps = plan_services(specs, 'present', 'process', {'web': Observed(dead)})
    assert steps[0] == ServiceStep('stop_process', 'web', pid=None)
    assert steps[0].as_command() == 'rm -f /run/nslab/services/web.json'
    dead.leftovers = True
    steps = plan_services(specs, 'present', 'process', {'web': Observed(dead)})
    assert steps[0] == ServiceStep('stop_process', 'web', pid=4242)


def test_absent_stops_a_running_service_and_ignores_a_missing_one():
    specs = specs_of(dict(name='web'), dict(netns='ns2'), state='absent')
    observed = {'web': Observed(running_record(specs_of(WEB)[0])), 'ns2': Observed()}
    assert ops(plan_services(specs, 'absent', 'process', observed)) == [('stop_process', 'web')]
    assert report_services(specs, simulate_services(specs, 'absent', 'process', observed)) == []


def test_report_and_simulation_of_present():
    specs = specs_of(WEB)
    observed = {'web': Observed()}
    assert report_services(specs, observed) == []
    assert report_services(specs, simulate_services(specs, 'present', 'process', observed)) == [dict(
        name='web', netns='ns1', command=WEB['command'], chdir='/run/nslab/services/web.d',
        manager='process', running=True)]
    dead = running_record(specs[0], alive=False)
    assert report_services(specs, {'web': Observed(dead)})[0]['running'] is False


def test_many_services_stop_before_any_start():
    specs = specs_of(WEB, dict(netns='ns2', command='sleep 1000'))
    observed = {'web': Observed(running_record(specs[0], command='old')), 'ns2': Observed()}
    assert ops(plan_services(specs, 'present', 'process', observed)) == [
        ('stop_process', 'web'), ('start_process', 'web'), ('start_process', 'ns2')]


def pending_record(spec, **changes):
    """A record written before the spawn by a run that died before completing it; pid and
    start time found by the token in the process's environment."""
    return running_record(spec, token='0123456789abcdef0123456789abcdef', pending=True, **changes)


def test_a_started_process_its_run_did_not_record_is_recorded_not_started_again():
    specs = specs_of(WEB)
    observed = {'web': Observed(pending_record(specs[0]))}
    steps = plan_services(specs, 'present', 'process', observed)
    assert ops(steps) == [('record_process', 'web')]
    assert steps[0].args['pid'] == 4242 and steps[0].args['start_time'] == 777
    assert json.loads(steps[0].args['text']) == dict(
        netns='ns1', command=WEB['command'], chdir='/run/nslab/services/web.d',
        log='/run/nslab/services/web.log', token='0123456789abcdef0123456789abcdef', pid=4242,
        start_time=777)
    assert steps[0].as_command() == 'echo %s >/run/nslab/services/web.json' % shlex.quote(
        steps[0].args['text'].strip())
    # Nothing about the service changes: check mode predicts the same report.
    assert report_services(specs, observed) == report_services(
        specs, simulate_services(specs, 'present', 'process', observed))
    completed = running_record(specs[0], token='0123456789abcdef0123456789abcdef')
    assert plan_services(specs, 'present', 'process', {'web': Observed(completed)}) == []


def test_a_pending_record_whose_process_is_gone_changed_or_unwanted_is_stopped():
    specs = specs_of(WEB)
    nothing = pending_record(specs[0], pid=None, start_time=None, alive=False, in_netns=False)
    assert plan_services(specs, 'present', 'process', {'web': Observed(nothing)}) == [
        ServiceStep('stop_process', 'web', pid=None), _start_of(specs[0])]
    orphans = pending_record(specs[0], start_time=None, alive=False, in_netns=False, leftovers=True)
    assert plan_services(specs, 'present', 'process', {'web': Observed(orphans)}) == [
        ServiceStep('stop_process', 'web', pid=4242), _start_of(specs[0])]
    elsewhere = pending_record(specs[0], in_netns=False)
    assert ops(plan_services(specs, 'present', 'process', {'web': Observed(elsewhere)})) == [
        ('stop_process', 'web'), ('start_process', 'web')]
    absent = specs_of(dict(name='web'), state='absent')
    assert plan_services(absent, 'absent', 'process', {'web': Observed(pending_record(specs[0]))}) == [
        ServiceStep('stop_process', 'web', pid=4242)]
    # Under systemd the unrecorded process goes like a recorded one.
    assert ops(plan_services(specs, 'present', 'systemd', {'web': Observed(pending_record(specs[0]))}))[0] == (
        'stop_process', 'web')


def _start_of(spec):
    return ServiceStep('start_process', spec['name'], netns=spec['netns'], command=spec['command'],
                       chdir=spec['chdir'], own_chdir=spec['own_chdir'])


# -- systemd manager ----------------------------------------------------------------------

def unit_of(spec, **changes):
    values = dict(active_state='active', main_pid=99, in_netns=True)
    values.update(changes)
    return UnitState(spec['name'], unit_text(spec), **values)


def test_a_new_unit_is_written_reloaded_once_and_started():
    specs = specs_of(WEB, dict(netns='ns2', command='sleep 1000', chdir='/srv'))
    steps = plan_services(specs, 'present', 'systemd', {})
    assert ops(steps) == [('write_unit', 'web'), ('write_unit', 'ns2'), ('daemon_reload', None),
                          ('restart_unit', 'web'), ('restart_unit', 'ns2')]
    assert [step.as_command() for step in steps[2:]] == [
        'systemctl daemon-reload',
        'mkdir -p /run/nslab/services/web.d && systemctl restart nslab-web.service',
        'systemctl restart nslab-ns2.service']
    assert steps[0].as_command().startswith("cat >/run/systemd/system/nslab-web.service <<'EOF'\n")


def test_an_unchanged_active_unit_needs_nothing_and_a_stopped_one_only_a_restart():
    specs = specs_of(WEB)
    assert plan_services(specs, 'present', 'systemd', {'web': Observed(unit=unit_of(specs[0]))}) == []
    for unit in (unit_of(specs[0], active_state='inactive', main_pid=0),
                 unit_of(specs[0], in_netns=False)):
        assert ops(plan_services(specs, 'present', 'systemd', {'web': Observed(unit=unit)})) == [
            ('restart_unit', 'web')]
    failed = unit_of(specs[0], active_state='failed', main_pid=0)
    assert ops(plan_services(specs, 'present', 'systemd', {'web': Observed(unit=failed)})) == [
        ('reset_failed', 'web'), ('restart_unit', 'web')]


def test_a_changed_command_stops_the_old_unit_before_it_rewrites_it():
    specs = specs_of(WEB)
    old = UnitState('web', unit_text(dict(specs[0], command='old')), 'active', 99, True)
    assert ops(plan_services(specs, 'present', 'systemd', {'web': Observed(unit=old)})) == [
        ('stop_unit', 'web'), ('write_unit', 'web'), ('daemon_reload', None), ('restart_unit', 'web')]
    old.active_state, old.main_pid = 'inactive', 0
    assert ops(plan_services(specs, 'present', 'systemd', {'web': Observed(unit=old)})) == [
        ('write_unit', 'web'), ('daemon_reload', None), ('restart_unit', 'web')]


def test_a_unit_file_systemd_has_not_loaded_is_reloaded_before_the_restart():
    specs = specs_of(WEB)
    # Written by a run killed before its daemon-reload: new (not found) or changed on disk.
    for unit in (unit_of(specs[0], active_state='inactive', main_pid=0, need_reload=True),
                 unit_of(specs[0], need_reload=True)):
        steps = plan_services(specs, 'present', 'systemd', {'web': Observed(unit=unit)})
        stop = [('stop_unit', 'web')] if unit.active_state == 'active' else []
        assert ops(steps) == stop + [('daemon_reload', None), ('restart_unit', 'web')]


def test_absent_stops_removes_and_reloads_and_a_service_moves_between_managers():
    specs = specs_of(WEB)
    unit = unit_of(specs[0])
    steps = plan_services(specs_of(dict(name='web'), state='absent'), 'absent', 'systemd',
                          {'web': Observed(unit=unit)})
    assert [step.as_command() for step in steps] == [
        'systemctl stop nslab-web.service', 'rm -f /run/systemd/system/nslab-web.service',
        'systemctl daemon-reload']
    for state, commands in (('inactive', []), ('failed', ['systemctl reset-failed nslab-web.service'])):
        stopped = unit_of(specs[0], active_state=state, main_pid=0)
        steps = plan_services(specs_of(dict(name='web'), state='absent'), 'absent', 'systemd',
                              {'web': Observed(unit=stopped)})
        assert [step.as_command() for step in steps] == commands + [
            'rm -f /run/systemd/system/nslab-web.service', 'systemctl daemon-reload']
    both = {'web': Observed(process=running_record(specs[0]), unit=unit)}
    assert ops(plan_services(specs, 'present', 'process', both)) == [
        ('stop_unit', 'web'), ('remove_unit', 'web'), ('daemon_reload', None)]
    assert ops(plan_services(specs, 'present', 'systemd', both)) == [('stop_process', 'web')]


def test_systemd_report_reads_what_the_unit_runs_back_from_it():
    specs = specs_of(WEB)
    assert report_services(specs, {'web': Observed(unit=unit_of(specs[0]))}) == [dict(
        name='web', netns='ns1', command=WEB['command'], chdir='/run/nslab/services/web.d',
        manager='systemd', running=True)]
    assert report_services(specs, simulate_services(specs, 'present', 'systemd', {})) == report_services(
        specs, {'web': Observed(unit=unit_of(specs[0]))})
    assert unit_metadata('[Service]\nExecStart=/bin/true\n') == dict(netns=None, command=None, chdir=None)


class SystemdModel:
    """systemd as far as the plan depends on it: the unit file on disk, the text the last
    daemon-reload loaded (a file written after it is not found until the next one), and the
    text the running main process was started from."""

    def __init__(self, file=None, loaded=None, running=None):
        self.file, self.loaded, self.running = file, loaded, running
        self.starts = 0

    def observe(self, name):
        if self.file is None:
            return {name: Observed()}
        active = self.running is not None
        return {name: Observed(unit=UnitState(name, self.file, 'active' if active else 'inactive',
                                              42 if active else 0, in_netns=active,
                                              need_reload=self.loaded != self.file))}

    def apply(self, step):
        if step.op == 'write_unit':
            self.file = step.args['text']
        elif step.op == 'remove_unit':
            self.file = None
        elif step.op == 'daemon_reload':
            self.loaded = self.file
        elif step.op == 'stop_unit':
            assert self.loaded is not None, 'systemctl stop of a unit systemd does not know'
            self.running = None
        elif step.op == 'restart_unit':
            assert self.loaded is not None, 'Unit nslab-web.service not found.'
            self.running = self.loaded
            self.starts += 1
        else:
            assert step.op == 'reset_failed'


@pytest.mark.parametrize('before', ['nothing', 'running', 'old', 'old-stopped', 'old-unloaded'])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_a_run_killed_after_any_systemd_step_converges_on_the_next(before, state):
    """Kill the run after each of its steps; the next run must end with the wanted unit file
    loaded and its process started from it (never the old command under the new file), or
    with nothing running, and a third run must find nothing to do."""
    spec = specs_of(WEB)[0]
    specs = [spec] if state == 'present' else specs_of(dict(name='web'), state='absent')
    new, old = unit_text(spec), unit_text(dict(spec, command='old'))
    initial = dict(nothing=(None, None, None), running=(new, new, new), old=(old, old, old),
                   **{'old-stopped': (old, old, None), 'old-unloaded': (new, old, old)})[before]
    steps = plan_services(specs, state, 'systemd', SystemdModel(*initial).observe('web'))
    for killed_after in range(len(steps) + 1):
        systemd = SystemdModel(*initial)
        for step in steps[:killed_after]:
            systemd.apply(step)
        for step in plan_services(specs, state, 'systemd', systemd.observe('web')):
            systemd.apply(step)
        if state == 'present':
            assert (systemd.file, systemd.loaded, systemd.running) == (new, new, new), killed_after
        else:
            assert (systemd.file, systemd.running) == (None, None), killed_after
        assert plan_services(specs, state, 'systemd', systemd.observe('web')) == []


# -- the unit file ------------------------------------------------------------------------

NASTY = 'printf "%s\\n" "a b" \'c\' $HOME ${X} 100% back\\slash;semi\nnext\tline'


def test_unit_text():
    spec = specs_of(dict(WEB, chdir='/srv/100%'))[0]
    assert unit_text(spec).splitlines()[3:] == [
        '[Unit]',
        'Description=nslab.net service web in network namespace ns1',
        'After=network.target',
        '',
        '[Service]',
        'Type=simple',
        'NetworkNamespacePath=/run/netns/ns1',
        'BindReadOnlyPaths=-/etc/netns/ns1/hosts:/etc/hosts',
        'BindReadOnlyPaths=-/etc/netns/ns1/resolv.conf:/etc/resolv.conf',
        'WorkingDirectory=/srv/100%%',
        'ExecStart=/bin/sh -c "python3 -m http.server 8000"',
        'Restart=on-failure',
        'RestartSec=1s',
        'TimeoutStopSec=5s',
    ]


def test_systemd_quoting_doubles_specifiers_and_dollars_and_escapes_the_rest():
    assert systemd_quote(NASTY) == (
        '"printf \\"%%s\\\\n\\" \\"a b\\" \'c\' $$HOME $${X} 100%% back\\\\slash;semi\\nnext\\tline"')
    assert systemd_quote('\x01') == '"\\x01"'


def test_the_metadata_line_survives_any_command():
    spec = specs_of(dict(WEB, command=NASTY))[0]
    text = unit_text(spec)
    assert unit_metadata(text) == dict(netns='ns1', command=NASTY, chdir='/run/nslab/services/web.d')
    assert len([line for line in text.splitlines() if line.startswith('ExecStart=')]) == 1


SYSTEMD_ANALYZE = shutil.which('systemd-analyze')


@pytest.mark.skipif(not SYSTEMD_ANALYZE, reason='systemd-analyze is not installed')
def test_systemd_parses_the_unit_and_unquotes_to_the_original(tmp_path):
    """systemd's own parser, without a running systemd: the unit verifies cleanly, and a quoted
    executable name (which ``verify`` prints back, unquoted, as not executable) round-trips."""
    spec = specs_of(dict(WEB, command=NASTY, chdir='/'))[0]
    unit = tmp_path / 'nslab-web.service'
    unit.write_text(unit_text(spec).replace('NetworkNamespacePath=/run/netns/ns1\n', ''))
    verify = [SYSTEMD_ANALYZE, 'verify', '--man=no', str(unit)]
    proc = subprocess.run(verify, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    # $ is expanded at exec time, not by the parser: leave it out of the round trip.
    name = '/nonexistent/' + NASTY.replace('$', '')
    unit.write_text('[Service]\nExecStart=%s\n' % systemd_quote(name))
    proc = subprocess.run(verify, capture_output=True, text=True, timeout=30, check=False)
    assert 'special characters: %s\n' % name in proc.stderr, proc.stderr


# -- the systemd adapter, against a recorded systemctl (no systemd runs here) ---------------

class FakeSystemctl:
    """``run_command`` that records argv and answers ``systemctl show`` from ``states``:
    ``(ActiveState, SubState, MainPID)`` or with ``(LoadState, NeedDaemonReload)`` after them,
    printed in the order systemctl prints the properties, not the order asked."""

    def __init__(self, states):
        self.states = states
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[1] == 'show':
            units = argv[argv.index('--') + 1:]
            blocks = []
            for unit in units:
                state = self.states.get(unit, ('inactive', 'dead', 0, 'not-found'))
                active, sub, pid, load, reload = state + ('loaded', 'no')[len(state) - 3:]
                blocks.append('MainPID=%d\nId=%s\nLoadState=%s\nActiveState=%s\nSubState=%s\n'
                              'NeedDaemonReload=%s' % (pid, unit, load, active, sub, reload))
            return 0, '\n\n'.join(blocks) + '\n', ''
        if argv[0] == 'journalctl':
            return 0, 'line 1\nNo module named http.servr\n', ''
        return 0, '', ''


@pytest.fixture
def unit_dir(tmp_path, monkeypatch):
    from ansible_collections.nslab.net.plugins.module_utils._services import paths as service_paths
    monkeypatch.setattr(service_paths, 'UNIT_DIR', str(tmp_path))
    return tmp_path


def test_systemd_adapter_reads_applies_and_reports_failures(unit_dir):
    from ansible_collections.nslab.net.plugins.module_utils._services.systemd import Systemd
    spec = specs_of(WEB)[0]
    fake = FakeSystemctl({'nslab-web.service': ('failed', 'failed', 0)})
    systemd = Systemd(fake, 'systemctl', 'journalctl')
    assert systemd.read_units(['web']) == {'web': None}
    assert fake.calls == []  # no unit file: nothing to ask systemd
    steps = plan_services([spec], 'present', 'systemd', {'web': Observed()})
    for step in steps:
        if step.op == 'restart_unit':
            step.args['make_dir'] = None  # the real one is under /run
        systemd.apply(step)
    assert (unit_dir / 'nslab-web.service').read_text() == unit_text(spec)
    assert [p.name for p in unit_dir.iterdir()] == ['nslab-web.service']
    assert fake.calls == [['systemctl', 'daemon-reload'], ['systemctl', 'restart', '--', 'nslab-web.service']]
    units = systemd.read_units(['web'])
    assert units['web'] == UnitState('web', unit_text(spec), 'failed', 0, False)
    assert fake.calls[-1] == ['systemctl', 'show', '--property=Id,LoadState,ActiveState,SubState,MainPID,'
                              'NeedDaemonReload', '--', 'nslab-web.service']
    ((name, message),) = systemd.not_running(['web'])
    assert name == 'web' and message == (
        'service web is not running right after it started (failed failed); the end of its '
        'journal:\nline 1\nNo module named http.servr')
    systemd.apply(ServiceStep('remove_unit', 'web'))
    systemd.apply(ServiceStep('remove_unit', 'web'))  # already gone: fine
    assert list(unit_dir.iterdir()) == []


def test_systemd_adapter_fails_naming_the_command():
    from ansible_collections.nslab.net.plugins.module_utils._services.processes import ServiceError
    from ansible_collections.nslab.net.plugins.module_utils._services.systemd import Systemd
    systemd = Systemd(lambda argv: (1, '', 'Access denied\n'), 'systemctl')
    with pytest.raises(ServiceError, match='^systemctl daemon-reload failed .exit status 1.: Access denied$'):
        systemd.apply(ServiceStep('daemon_reload'))


def test_systemd_adapter_tells_a_unit_file_systemd_has_not_loaded(unit_dir):
    from ansible_collections.nslab.net.plugins.module_utils._services.systemd import Systemd
    spec = specs_of(WEB)[0]
    (unit_dir / 'nslab-web.service').write_text(unit_text(spec))
    for answer, need_reload in ((('inactive', 'dead', 0, 'not-found'), True),
                                (('active', 'running', 4242, 'loaded', 'yes'), True),
                                (('inactive', 'dead', 0, 'loaded', 'no'), False)):
        units = Systemd(FakeSystemctl({'nslab-web.service': answer}), 'systemctl').read_units(['web'])
        assert units['web'].need_reload is need_reload, answer
        assert units['web'].active_state == answer[0] and units['web'].main_pid == answer[2]
