# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab_network's restore step: what it returns as ``restore``, its preflight, and the step.

Whether systemd is init is the test's choice (``booted``), the running code is a zip below
tmp_path (tests do not run from AnsiballZ), and the files go below tmp_path.
"""

from __future__ import annotations


import copy
import os
import sys
import zipfile

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from adapter_fakes import SYSTEMCTL, FakeModule

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import LAB_ARGS
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec, lab_variables
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._restore import task
from ansible_collections.nslab.net.plugins.module_utils._restore.adapter import Paths, code_digest, read_restore
from ansible_collections.nslab.net.plugins.module_utils._restore.plan import declaration, unit_text

RELOAD = (SYSTEMCTL, 'daemon-reload')
STOP = (SYSTEMCTL, 'stop', '--', 'nslab-restore@web.service')
HOST = {'host': {'links': [dict(name='eth0', addresses=['198.51.100.11/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
        'namespaces': {}}
ARGS = dict(name='web', namespaces=[dict(name='ns1', publish=['8000:8000']), dict(name='ns2')])


def lab(args=None, **extra):
    """``(params, spec, plan)`` of lab_network with ``args`` on HOST."""
    result = ArgumentSpecValidator(LAB_ARGS['argument_spec']).validate(copy.deepcopy(dict(args or ARGS, **extra)))
    assert not result.error_messages, result.error_messages
    params = result.validated_parameters
    spec = lab_spec(lab_variables(params))
    return params, spec, lab_plan(spec, HOST)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A systemd host below tmp_path, and the zip this run of lab_network runs from."""
    systemd_dir = tmp_path / 'etc' / 'systemd' / 'system'
    systemd_dir.mkdir(parents=True)
    source = str(tmp_path / 'payload.zip')
    with zipfile.ZipFile(source, 'w') as archive:
        archive.writestr('ansible_collections/nslab/net/plugins/modules/lab_network.py', 'print("module")\n')
    monkeypatch.setattr(task, 'booted', lambda: True)
    monkeypatch.setattr(task, 'running_code', lambda: source)
    return Paths(restore_dir=str(tmp_path / 'var' / 'lib' / 'nslab' / 'restore'), systemd_dir=str(systemd_dir)), source


def systemd_module(check_mode=False, reload=(0, '', '')):
    return FakeModule({RELOAD: reload, STOP: (0, '', '')}, {'systemctl': SYSTEMCTL}, check_mode)


def files_below(root):
    return sorted(os.path.relpath(os.path.join(directory, name), root)
                  for directory, unused, names in os.walk(root) for name in names)


# restore_status

def test_the_status_says_when_systemd_is_not_init(monkeypatch):
    monkeypatch.setattr(task, 'booted', lambda: False)
    assert task.restore_status(lab()[0], 'present') == dict(at_boot=False, reason=task.NOT_SYSTEMD)


def test_the_status_says_why_nothing_restores_the_lab(monkeypatch):
    monkeypatch.setattr(task, 'booted', lambda: True)
    assert task.restore_status(lab(state='absent')[0], 'absent') == dict(at_boot=False, reason='torn down')
    assert task.restore_status(lab(restore_at_boot=False)[0], 'present') == dict(
        at_boot=False, reason='restore_at_boot is false')


def test_the_status_names_the_unit_and_its_files(monkeypatch):
    monkeypatch.setattr(task, 'booted', lambda: True)
    assert task.restore_status(lab()[0], 'present') == dict(
        at_boot=True, unit='nslab-restore@web.service', declaration='/var/lib/nslab/restore/web.json',
        code='/var/lib/nslab/restore/web.pyz')


# restore_problem

def test_a_foreign_template_is_a_problem_only_for_a_build_that_stores(host):
    paths = host[0]
    params = lab()[0]
    assert task.restore_problem(params, 'present', paths) is None
    with open(paths.template, 'w') as handle:
        handle.write('[Unit]\nDescription=someone else\n')
    assert 'nslab-restore@.service exists and was not written by nslab.net' in task.restore_problem(params, 'present', paths)
    assert task.restore_problem(params, 'absent', paths) is None
    assert task.restore_problem(lab(restore_at_boot=False)[0], 'present', paths) is None


def test_unreadable_restore_files_are_a_problem(host):
    paths = host[0]
    os.mkdir(paths.template)
    assert task.restore_problem(lab()[0], 'present', paths).startswith('cannot read the restore files of lab web: ')


def test_no_problem_where_systemd_is_not_init(host, monkeypatch):
    paths = host[0]
    with open(paths.template, 'w') as handle:
        handle.write('[Unit]\n')
    monkeypatch.setattr(task, 'booted', lambda: False)
    assert task.restore_problem(lab()[0], 'present', paths) is None


# converge_restore

def test_check_mode_reports_the_changes_and_makes_none(host, tmp_path):
    paths, source = host
    module = systemd_module(check_mode=True)
    done = task.converge_restore(module, *lab(), paths=paths)
    assert done['changed'] is True
    assert done['commands'] == [
        'cp <this run of lab_network> %s' % paths.code('web'),
        'cat > %s  # the declaration of this run' % paths.declaration('web'),
        'cat > %s' % paths.template,
        'systemctl enable nslab-restore@web.service',
        'systemctl daemon-reload']
    assert done['diff'] == dict(
        before=dict(unit='nslab-restore@web.service', enabled=False, declaration=False, code=None),
        after=dict(unit='nslab-restore@web.service', enabled=True, declaration=True, code=code_digest(source)))
    assert files_below(str(tmp_path)) == ['payload.zip'] and not os.path.exists(paths.restore_dir)
    assert module.calls == []


def test_a_build_stores_the_declaration_of_its_plan_and_a_rerun_changes_nothing(host):
    paths, source = host
    module = systemd_module()
    params, spec, plan = lab()
    done = task.converge_restore(module, params, spec, plan, paths=paths)
    assert done['changed'] is True and len(done['commands']) == 5
    assert module.argvs() == [RELOAD]
    found = read_restore(paths, 'web')
    assert found['declaration'] == declaration(params, spec, plan, code_digest(source))
    assert found['template'] == unit_text(sys.executable)
    assert found['enabled'] and found['code'] == code_digest(source)
    again = task.converge_restore(module, *lab(), paths=paths)
    assert (again['changed'], again['commands']) == (False, [])
    assert again['diff']['before'] == again['diff']['after']
    assert module.argvs() == [RELOAD]


def test_a_teardown_removes_what_a_build_stored(host, tmp_path):
    paths, unused = host
    task.converge_restore(systemd_module(), *lab(), paths=paths)
    module = systemd_module()
    params, spec, unused_plan = lab(state='absent')
    done = task.converge_restore(module, params, spec, None, paths=paths)
    assert done['changed'] is True
    assert done['commands'] == ['systemctl disable --now nslab-restore@web.service', 'rm %s' % paths.declaration('web'),
                                'rm %s' % paths.code('web'), 'rm %s' % paths.template, 'systemctl daemon-reload']
    assert done['diff']['after'] == dict(unit='nslab-restore@web.service', enabled=False, declaration=False, code=None)
    assert files_below(str(tmp_path)) == ['payload.zip']
    assert module.argvs() == [STOP, RELOAD]
    assert task.converge_restore(module, params, spec, None, paths=paths)['changed'] is False


def test_nothing_is_stored_where_systemd_is_not_init(host, tmp_path, monkeypatch):
    paths, unused = host
    monkeypatch.setattr(task, 'booted', lambda: False)
    done = task.converge_restore(systemd_module(), *lab(), paths=paths)
    assert done == dict(changed=False, commands=[], diff=dict(before={}, after={}))
    assert files_below(str(tmp_path)) == ['payload.zip']


def test_a_module_not_run_from_a_zip_fails_before_any_change(host, tmp_path, monkeypatch):
    paths, unused = host
    monkeypatch.setattr(task, 'running_code', lambda: None)
    with pytest.raises(TaskFailed) as caught:
        task.converge_restore(systemd_module(), *lab(), paths=paths)
    assert caught.value.msg == ('restore at boot: the module does not run from an AnsiballZ zip, so it has no code '
                                'to store')
    assert caught.value.fields == dict(changed=False)
    assert files_below(str(tmp_path)) == ['payload.zip']


def test_a_failure_part_way_says_the_run_changed_and_what_it_meant_to_do(host):
    paths, unused = host
    module = systemd_module(reload=(1, '', 'Access denied'))
    with pytest.raises(TaskFailed) as caught:
        task.converge_restore(module, *lab(), paths=paths)
    assert caught.value.msg == 'restore at boot: systemctl daemon-reload failed (exit status 1): Access denied'
    assert caught.value.fields['changed'] is True and len(caught.value.fields['commands']) == 5
