# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore files on disk: the code's digest and stored copy, writing, reading, removing.

Every path is below tmp_path (``Paths`` points the restore directory and the systemd
directory there); systemctl is a recorded stand-in that answers ``daemon-reload``.
"""

from __future__ import annotations


import os
import stat
import zipfile

import pytest

from adapter_fakes import SYSTEMCTL, FakeModule

from ansible_collections.nslab.net.plugins.module_utils._restore import adapter, boot
from ansible_collections.nslab.net.plugins.module_utils._restore.adapter import (
    Paths, RestoreError, apply_restore, code_digest, command, read_restore, running_code)
from ansible_collections.nslab.net.plugins.module_utils._restore.plan import plan_restore, unit_text

RELOAD = (SYSTEMCTL, 'daemon-reload')
STOP = (SYSTEMCTL, 'stop', '--', 'nslab-restore@web.service')
MEMBERS = {
    'ansible/__init__.py': b'',
    'ansible/module_utils/basic.py': b'# basic\n',
    'ansible_collections/nslab/net/plugins/modules/lab_network.py': b'print("module")\n',
}
DECLARATION = '{"ANSIBLE_MODULE_ARGS": {"name": "web"}}\n'


def make_zip(path, members=None, date_time=(2026, 1, 2, 3, 4, 6), wrapper=True, compression=zipfile.ZIP_DEFLATED):
    """An AnsiballZ-like zip: the members, and the two a wrapper adds unless ``wrapper`` is false."""
    members = dict(MEMBERS if members is None else members)
    if wrapper:
        members['sitecustomize.py'] = ('import sys\nsys.path.insert(0, "%s")\n' % path).encode('utf-8')
        members['__main__.py'] = b'raise SystemExit("the wrapper")\n'
    with zipfile.ZipFile(str(path), 'w', compression) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time)
            info.compress_type = compression
            archive.writestr(info, data)
    return str(path)


@pytest.fixture
def paths(tmp_path):
    """A host's restore directory and systemd directory below tmp_path (the latter exists, as on a host)."""
    systemd_dir = tmp_path / 'etc' / 'systemd' / 'system'
    systemd_dir.mkdir(parents=True)
    return Paths(restore_dir=str(tmp_path / 'var' / 'lib' / 'nslab' / 'restore'), systemd_dir=str(systemd_dir))


@pytest.fixture
def source(tmp_path):
    return make_zip(tmp_path / 'ansible_lab_network_payload.zip')


def reloading(rc=0, err=''):
    return FakeModule({RELOAD: (rc, '', err), STOP: (0, '', '')}, {'systemctl': SYSTEMCTL})


def build(paths, source, lab='web', module=None, declaration=DECLARATION):
    """Store ``lab`` as a first build does; the module whose run_command was used."""
    module = module or reloading()
    wanted = dict(declaration=declaration, code=code_digest(source), template=unit_text('/usr/bin/python3'))
    apply_restore(paths, plan_restore(read_restore(paths, lab), wanted, lab), source, module.run_command, SYSTEMCTL)
    return module


def remove(paths, lab='web', module=None):
    module = module or reloading()
    apply_restore(paths, plan_restore(read_restore(paths, lab), None, lab), None, module.run_command, SYSTEMCTL)
    return module


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def leftovers(directory):
    return [name for name in os.listdir(directory) if name.startswith('.')]


# The code's digest.

def test_the_digest_ignores_timestamps_and_the_wrapper_members(tmp_path):
    first = make_zip(tmp_path / 'a.zip', date_time=(2026, 1, 2, 3, 4, 6))
    later = make_zip(tmp_path / 'b.zip', date_time=(2027, 6, 7, 8, 9, 10))
    bare = make_zip(tmp_path / 'c.zip', wrapper=False, compression=zipfile.ZIP_STORED)
    assert code_digest(first) == code_digest(later) == code_digest(bare)
    assert code_digest(first).startswith('sha256:') and len(code_digest(first)) == len('sha256:') + 64


def test_the_digest_changes_with_a_member_content_or_name(tmp_path):
    before = code_digest(make_zip(tmp_path / 'a.zip'))
    changed = dict(MEMBERS, **{'ansible/module_utils/basic.py': b'# basic, the next version\n'})
    assert code_digest(make_zip(tmp_path / 'b.zip', changed)) != before
    renamed = dict(MEMBERS)
    renamed['ansible/module_utils/basic2.py'] = renamed.pop('ansible/module_utils/basic.py')
    assert code_digest(make_zip(tmp_path / 'c.zip', renamed)) != before
    more = dict(MEMBERS, **{'ansible/module_utils/extra.py': b''})
    assert code_digest(make_zip(tmp_path / 'd.zip', more)) != before


def test_tests_do_not_run_from_a_zip():
    assert running_code() is None


# Writing.

def test_a_first_build_stores_private_files_a_readable_template_and_the_enable_link(paths, source):
    module = build(paths, source)
    assert mode(paths.restore_dir) == 0o700
    assert mode(paths.declaration('web')) == 0o600 and mode(paths.code('web')) == 0o600
    assert mode(paths.template) == 0o644
    with open(paths.declaration('web')) as handle:
        assert handle.read() == DECLARATION
    with open(paths.template) as handle:
        assert handle.read() == unit_text('/usr/bin/python3')
    link = paths.enabled_link('web')
    assert link == os.path.join(paths.systemd_dir, 'multi-user.target.wants', 'nslab-restore@web.service')
    assert os.path.islink(link) and os.readlink(link) == paths.template
    assert module.argvs() == [RELOAD]
    assert leftovers(paths.restore_dir) == [] and leftovers(paths.systemd_dir) == []


def test_the_stored_code_is_the_source_with_the_boot_main_instead_of_the_wrapper(paths, source):
    build(paths, source)
    with zipfile.ZipFile(paths.code('web')) as stored, zipfile.ZipFile(source) as given:
        assert 'sitecustomize.py' not in stored.namelist()
        assert stored.read('__main__.py').decode('utf-8') == boot.ZIPAPP_MAIN
        for name in MEMBERS:
            assert stored.read(name) == given.read(name)
        assert sorted(stored.namelist()) == sorted(list(MEMBERS) + ['__main__.py'])
    # The boot's own run (from the stored copy) finds the digest the declaration names.
    assert code_digest(paths.code('web')) == code_digest(source)


def test_read_restore_sees_what_a_build_stored(paths, source):
    assert read_restore(paths, 'web') == dict(declaration=None, code=None, template=None, template_ours=False,
                                              enabled=False, other_labs=[])
    build(paths, source)
    assert read_restore(paths, 'web') == dict(declaration=DECLARATION, code=code_digest(source),
                                              template=unit_text('/usr/bin/python3'), template_ours=True, enabled=True,
                                              other_labs=[])
    build(paths, source, 'db')
    assert read_restore(paths, 'web')['other_labs'] == ['db']


def test_other_labs_are_the_declarations_not_the_code_or_temporary_files(paths, source):
    os.makedirs(paths.restore_dir)
    for name in ('db.json', 'lonely.pyz', '.web.json.x1y2.tmp', 'notes.txt'):
        with open(os.path.join(paths.restore_dir, name), 'w') as handle:
            handle.write('{}')
    assert read_restore(paths, 'web')['other_labs'] == ['db']


def test_a_template_without_the_marker_is_not_ours(paths):
    with open(paths.template, 'w') as handle:
        handle.write('[Unit]\nDescription=someone else\n')
    found = read_restore(paths, 'web')
    assert found['template'].startswith('[Unit]') and found['template_ours'] is False


def test_a_second_build_changes_nothing(paths, source):
    build(paths, source)
    wanted = dict(declaration=DECLARATION, code=code_digest(source), template=unit_text('/usr/bin/python3'))
    assert plan_restore(read_restore(paths, 'web'), wanted, 'web') == []


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(paths, source, monkeypatch):
    build(paths, source)

    def refuse(src, dst):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'rename', refuse)
    op = dict(op='write_declaration', lab='web', text='{"new": true}\n')
    with pytest.raises(RestoreError) as caught:
        apply_restore(paths, [op], source, reloading().run_command, SYSTEMCTL)
    assert str(caught.value) == ('cat > %s  # the declaration of this run: [Errno 28] No space left on device'
                                 % paths.declaration('web'))
    with open(paths.declaration('web')) as handle:
        assert handle.read() == DECLARATION
    assert leftovers(paths.restore_dir) == []


def test_the_code_cannot_be_stored_without_a_zip_to_store(paths):
    with pytest.raises(RestoreError) as caught:
        apply_restore(paths, [dict(op='write_code', lab='web')], None, reloading().run_command, SYSTEMCTL)
    assert 'does not run from an AnsiballZ zip' in str(caught.value)
    assert not os.path.exists(paths.code('web'))


def test_a_source_that_is_not_a_zip_fails_naming_the_command(paths, tmp_path):
    broken = tmp_path / 'broken.zip'
    broken.write_bytes(b'not a zip')
    with pytest.raises(RestoreError) as caught:
        apply_restore(paths, [dict(op='write_code', lab='web')], str(broken), reloading().run_command, SYSTEMCTL)
    assert str(caught.value).startswith('cp <this run of lab_network> %s: ' % paths.code('web'))


def test_a_failed_daemon_reload_fails_with_its_message(paths):
    module = reloading(rc=1, err='Failed to reload daemon: Access denied\n')
    with pytest.raises(RestoreError) as caught:
        apply_restore(paths, [dict(op='daemon_reload')], None, module.run_command, SYSTEMCTL)
    assert str(caught.value) == 'systemctl daemon-reload failed (exit status 1): Failed to reload daemon: Access denied'
    assert module.argvs() == [RELOAD]


def test_without_systemctl_there_is_nothing_to_reload(paths):
    module = FakeModule()
    apply_restore(paths, [dict(op='daemon_reload')], None, module.run_command, None)
    assert module.calls == []


# Removing.

def test_removing_the_last_lab_removes_its_files_the_template_and_the_empty_directories(paths, source, tmp_path):
    build(paths, source)
    module = remove(paths)
    assert not os.path.lexists(paths.enabled_link('web')) and not os.path.exists(paths.template)
    assert not os.path.exists(paths.restore_dir)
    assert not os.path.exists(os.path.dirname(paths.restore_dir))  # /var/lib/nslab, empty
    assert os.path.isdir(str(tmp_path / 'var' / 'lib'))
    # Stopped, as `systemctl disable --now` does: after a boot's restore the unit is active.
    assert module.argvs() == [STOP, RELOAD]
    assert read_restore(paths, 'web') == dict(declaration=None, code=None, template=None, template_ours=False,
                                              enabled=False, other_labs=[])


def test_removing_one_lab_leaves_the_others_and_the_template(paths, source):
    build(paths, source, 'web')
    build(paths, source, 'db')
    module = remove(paths, 'web')
    assert sorted(os.listdir(paths.restore_dir)) == ['db.json', 'db.pyz']
    assert os.path.exists(paths.template) and os.path.islink(paths.enabled_link('db'))
    assert not os.path.lexists(paths.enabled_link('web'))
    assert module.argvs() == [STOP]  # the template stays: no reload


def test_removing_keeps_a_parent_directory_that_holds_something_else(paths, source):
    build(paths, source)
    parent = os.path.dirname(paths.restore_dir)
    with open(os.path.join(parent, 'sysctls.json'), 'w') as handle:
        handle.write('{}')
    remove(paths)
    assert not os.path.exists(paths.restore_dir)
    assert os.listdir(parent) == ['sysctls.json']


def test_removing_what_is_already_gone_is_no_error(paths):
    # 5: systemctl's status for a unit that is not loaded.
    not_loaded = FakeModule({STOP: (5, '', 'Failed to stop nslab-restore@web.service: Unit not loaded.')})
    for op in ('disable', 'remove_declaration', 'remove_code'):
        apply_restore(paths, [dict(op=op, lab='web')], None, not_loaded.run_command, SYSTEMCTL)
    apply_restore(paths, [dict(op='remove_template')], None, FakeModule().run_command, SYSTEMCTL)


def test_unreadable_restore_files_fail_naming_the_lab(paths, tmp_path):
    os.makedirs(paths.restore_dir)
    with open(paths.code('web'), 'wb') as handle:
        handle.write(b'not a zip')
    with pytest.raises(RestoreError) as caught:
        read_restore(paths, 'web')
    assert str(caught.value).startswith('cannot read the restore files of lab web: ')
    os.unlink(paths.code('web'))
    os.mkdir(paths.template)  # a directory where the template should be
    with pytest.raises(RestoreError) as caught:
        read_restore(paths, 'web')
    assert 'Is a directory' in str(caught.value)


# The commands the module reports.

def test_each_operation_has_its_shell_equivalent():
    paths = Paths()
    expected = {
        'write_code': 'cp <this run of lab_network> /var/lib/nslab/restore/web.pyz',
        'write_declaration': 'cat > /var/lib/nslab/restore/web.json  # the declaration of this run',
        'write_template': 'cat > /etc/systemd/system/nslab-restore@.service',
        'enable': 'systemctl enable nslab-restore@web.service',
        'daemon_reload': 'systemctl daemon-reload',
        'disable': 'systemctl disable --now nslab-restore@web.service',
        'remove_declaration': 'rm /var/lib/nslab/restore/web.json',
        'remove_code': 'rm /var/lib/nslab/restore/web.pyz',
        'remove_template': 'rm /etc/systemd/system/nslab-restore@.service',
    }
    for name, text in expected.items():
        op = dict(op=name) if name in ('write_template', 'daemon_reload', 'remove_template') else dict(op=name, lab='web')
        assert command(paths, op) == text


def test_the_default_paths_are_the_host_ones():
    paths = Paths()
    assert (paths.declaration('web'), paths.code('web'), paths.template, paths.enabled_link('web')) == (
        '/var/lib/nslab/restore/web.json', '/var/lib/nslab/restore/web.pyz',
        '/etc/systemd/system/nslab-restore@.service',
        '/etc/systemd/system/multi-user.target.wants/nslab-restore@web.service')
    assert adapter.RESTORE_DIR == '/var/lib/nslab/restore'


def test_a_unit_that_will_not_stop_fails_the_removal_and_keeps_its_link(paths, source):
    build(paths, source)
    refusing = FakeModule({STOP: (1, '', 'Access denied')})
    with pytest.raises(RestoreError) as caught:
        apply_restore(paths, [dict(op='disable', lab='web')], None, refusing.run_command, SYSTEMCTL)
    assert str(caught.value) == 'systemctl stop nslab-restore@web.service failed (exit status 1): Access denied'
    assert os.path.islink(paths.enabled_link('web'))
