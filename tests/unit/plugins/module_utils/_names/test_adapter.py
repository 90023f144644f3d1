# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The name files on disk, and lab_network's names step that converges them.

Every path is below tmp_path (``directory=`` stands for /etc/netns). A rewritten file keeps
its inode: a running service bound it over its /etc file (a unit's BindReadOnlyPaths=, ``ip
netns exec``) and would go on seeing a new inode's predecessor.
"""

from __future__ import annotations


import errno
import os
import stat

import pytest

from adapter_fakes import FakeModule

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._names import adapter
from ansible_collections.nslab.net.plugins.module_utils._names.directories import stamped
from ansible_collections.nslab.net.plugins.module_utils._names.adapter import (
    NamesError, apply_names, command, commands, read_host_files, read_name_files)
from ansible_collections.nslab.net.plugins.module_utils._names.plan import NameOp, name_files, owner, plan_names
from ansible_collections.nslab.net.plugins.module_utils._names import task
from ansible_collections.nslab.net.plugins.module_utils._names.task import converge_names

HOST_FILES = dict(hosts='127.0.0.1\tlocalhost\n', resolv_conf='nameserver 192.0.2.53\nsearch corp.example\n',
                  systemd_resolv_conf=None)
HOST = {'host': {'links': [], 'default_routes': {}}, 'namespaces': {}, 'name_files': HOST_FILES}
DEFAULTS = dict(state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[])
LAB = dict(name='web', namespaces=[dict(name='ns1'), dict(name='ns2')])


@pytest.fixture
def netns_dir(tmp_path):
    """Where /etc/netns would be (not made yet, as on a host that never had one)."""
    return str(tmp_path / 'etc' / 'netns')


def wanted(directory, variables=None, host_files=None):
    """``{path: text}`` of the lab of ``variables`` below ``directory``."""
    host_files = HOST_FILES if host_files is None else host_files
    plan = lab_plan(lab_spec(dict(DEFAULTS, **(variables or LAB))), dict(HOST, name_files=host_files))
    return name_files(plan['names']['lab'], plan['namespaces'], plan['names']['settings'], host_files, directory)


def converge(directory, files, lab='web', check_mode=False):
    return converge_names(FakeModule(check_mode=check_mode), dict(lab=lab, files=files, directory=directory))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


def read(path):
    with open(path) as handle:
        return handle.read()


def made_here(directory, files):
    """``files`` as a first run writes them below ``directory``, which did not exist: each
    remembers that the lab made /etc/netns and its namespace's directory."""
    return stamped(files, set([directory] + [os.path.dirname(path) for path in files]), directory)


def files_below(root):
    return sorted(os.path.relpath(os.path.join(directory, name), root)
                  for directory, unused, names in os.walk(root) for name in names)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def strict_umask():
    """A umask that would make new files private: the name files must stay readable by all."""
    old = os.umask(0o077)
    yield
    os.umask(old)


# Reading

def test_read_name_files_reads_hosts_and_resolv_conf_of_every_directory_only(netns_dir):
    assert read_name_files(netns_dir) == {}  # no /etc/netns at all
    write(os.path.join(netns_dir, 'a', 'hosts'), 'A hosts\n')
    write(os.path.join(netns_dir, 'a', 'resolv.conf'), 'A resolv\n')
    write(os.path.join(netns_dir, 'a', 'nsswitch.conf'), 'hosts: files\n')
    write(os.path.join(netns_dir, 'b', 'resolv.conf'), 'B resolv\n')
    os.makedirs(os.path.join(netns_dir, 'empty'))
    assert read_name_files(netns_dir) == {
        os.path.join(netns_dir, 'a', 'hosts'): 'A hosts\n',
        os.path.join(netns_dir, 'a', 'resolv.conf'): 'A resolv\n',
        os.path.join(netns_dir, 'b', 'resolv.conf'): 'B resolv\n',
    }


def test_what_is_not_a_text_file_reads_as_empty_so_it_is_foreign(netns_dir):
    write(os.path.join(netns_dir, 'stray'), 'a file where a namespace directory would be\n')
    os.makedirs(os.path.join(netns_dir, 'd', 'hosts'))
    with open(os.path.join(netns_dir, 'd', 'resolv.conf'), 'wb') as handle:
        handle.write(b'\xff\xfe binary')
    found = read_name_files(netns_dir)
    assert found == {os.path.join(netns_dir, 'stray', 'hosts'): '', os.path.join(netns_dir, 'stray', 'resolv.conf'): '',
                     os.path.join(netns_dir, 'd', 'hosts'): '', os.path.join(netns_dir, 'd', 'resolv.conf'): ''}


def test_a_file_that_cannot_be_read_fails_naming_it(netns_dir, monkeypatch):
    path = os.path.join(netns_dir, 'a', 'hosts')
    write(path, 'x\n')

    def refuse(name):
        raise OSError(errno.EACCES, 'Permission denied')

    monkeypatch.setattr(adapter, 'read_text', refuse)
    with pytest.raises(NamesError) as caught:
        read_name_files(netns_dir)
    assert str(caught.value) == 'cannot read %s: [Errno 13] Permission denied' % path


def test_read_host_files_names_the_three_files(monkeypatch):
    texts = {'/etc/hosts': 'H', '/etc/resolv.conf': 'R'}
    seen = []

    def fake_read(path):
        seen.append(path)
        if path == '/run/systemd/resolve/resolv.conf':
            raise OSError(errno.EACCES, 'Permission denied')
        return texts.get(path)

    monkeypatch.setattr(adapter, 'read_text', fake_read)
    assert read_host_files() == dict(hosts='H', resolv_conf='R', systemd_resolv_conf=None)
    assert seen == ['/etc/hosts', '/etc/resolv.conf', '/run/systemd/resolve/resolv.conf']


# Writing

def test_a_new_file_gets_its_directories_and_is_readable_by_all(netns_dir, strict_umask):
    path = os.path.join(netns_dir, 'ns1', 'hosts')
    apply_names([NameOp('write', path, 'hello\n')])
    assert read(path) == 'hello\n'
    assert mode(path) == 0o644
    assert os.path.isdir(os.path.join(netns_dir, 'ns1'))
    assert os.listdir(os.path.join(netns_dir, 'ns1')) == ['hosts']  # no temporary file left


def test_a_rewrite_keeps_the_inode_that_running_services_bound(netns_dir):
    path = os.path.join(netns_dir, 'ns1', 'resolv.conf')
    apply_names([NameOp('write', path, 'nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch a.example\n')])
    before = os.stat(path)
    apply_names([NameOp('write', path, 'nameserver 198.51.100.53\n')])
    after = os.stat(path)
    assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev)
    assert read(path) == 'nameserver 198.51.100.53\n'  # shorter: nothing of the old text left
    assert os.listdir(os.path.dirname(path)) == ['resolv.conf']


def test_a_file_held_open_sees_the_rewrite(netns_dir):
    # What a process with the file bound over its /etc/hosts sees.
    path = os.path.join(netns_dir, 'ns1', 'hosts')
    apply_names([NameOp('write', path, 'old\n')])
    with open(path) as held:
        apply_names([NameOp('write', path, 'new\n')])
        assert held.read() == 'new\n'


def test_a_rewrite_that_fails_leaves_a_file_the_lab_still_owns(netns_dir, monkeypatch):
    # A full disk (or EIO) while rewriting in place: the file must still start with the lab's
    # marker (the old text, or the new one's first line), or every later run refuses it as
    # "not written by nslab.net" until someone removes it by hand.
    files = wanted(netns_dir)
    converge(netns_dir, files)
    path = os.path.join(netns_dir, 'ns1', 'hosts')
    real_pwrite = os.pwrite

    def full(fd, data, offset):
        # The disk fills after the first 40 bytes.
        if offset >= 40:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_pwrite(fd, data[:40 - offset], offset)

    monkeypatch.setattr(os, 'pwrite', full)
    changed = wanted(netns_dir, dict(LAB, extra_hosts=['gw:10.0.0.1']))
    with pytest.raises(TaskFailed):
        converge(netns_dir, changed)
    monkeypatch.setattr(os, 'pwrite', real_pwrite)
    assert owner(read(path)) == 'web', read(path)
    assert converge(netns_dir, changed)['changed'] is True  # the next run mends it
    assert read(path) == made_here(netns_dir, changed)[path]


def test_remove_and_rmdir_leave_a_directory_that_holds_a_foreign_file(netns_dir):
    ours = os.path.join(netns_dir, 'ns1', 'hosts')
    foreign = os.path.join(netns_dir, 'ns1', 'resolv.conf')
    write(ours, 'ours\n')
    write(foreign, 'nameserver 1.1.1.1\n')
    apply_names([NameOp('remove', ours), NameOp('rmdir', os.path.dirname(ours)), NameOp('rmdir', netns_dir)])
    assert not os.path.exists(ours)
    assert read(foreign) == 'nameserver 1.1.1.1\n'


def test_rmdir_removes_empty_directories_and_what_is_gone_already_is_no_error(netns_dir):
    os.makedirs(os.path.join(netns_dir, 'ns1'))
    apply_names([NameOp('remove', os.path.join(netns_dir, 'ns1', 'hosts')),
                 NameOp('rmdir', os.path.join(netns_dir, 'ns1')), NameOp('rmdir', netns_dir),
                 NameOp('rmdir', netns_dir)])
    assert not os.path.exists(netns_dir)
    assert os.path.isdir(os.path.dirname(netns_dir))


def test_a_write_that_fails_names_the_operation(netns_dir):
    write(os.path.join(netns_dir, 'ns1'), 'a file where the directory should be\n')
    path = os.path.join(netns_dir, 'ns1', 'hosts')
    with pytest.raises(NamesError) as caught:
        apply_names([NameOp('write', path, 'x\n')])
    assert str(caught.value).startswith('cannot write %s: ' % path)


def test_each_operation_has_its_shell_equivalent():
    assert command(NameOp('write', '/etc/netns/ns1/hosts', 'a\nb\nc\n')) == (
        'mkdir -p /etc/netns/ns1 && cat > /etc/netns/ns1/hosts  # 3 lines')
    assert command(NameOp('remove', '/etc/netns/ns1/hosts')) == 'rm -f /etc/netns/ns1/hosts'
    assert command(NameOp('rmdir', '/etc/netns')) == 'rmdir --ignore-fail-on-non-empty /etc/netns'
    assert commands([NameOp('rmdir', '/a'), NameOp('rmdir', '/b')]) == [
        'rmdir --ignore-fail-on-non-empty /a', 'rmdir --ignore-fail-on-non-empty /b']


def test_the_planned_operations_applied_give_the_files_wanted(netns_dir):
    files = wanted(netns_dir)
    apply_names(plan_names('web', files, read_name_files(netns_dir), netns_dir))
    assert read_name_files(netns_dir) == files
    assert plan_names('web', files, read_name_files(netns_dir), netns_dir) == []


# The step

def test_a_first_run_writes_every_file_and_says_so(netns_dir):
    files = wanted(netns_dir)
    written = made_here(netns_dir, files)
    result = converge(netns_dir, files)
    assert result['changed'] is True
    assert read_name_files(netns_dir) == written
    assert files_below(netns_dir) == ['ns1/hosts', 'ns1/resolv.conf', 'ns2/hosts', 'ns2/resolv.conf']
    assert result['commands'] == ['mkdir -p %s && cat > %s  # %d lines' % (
        os.path.dirname(path), path, len(written[path].splitlines())) for path in sorted(files)]
    assert result['diff'] == dict(before=dict(files={}), after=dict(files=written))
    assert result['files'] == written


def test_a_second_run_changes_nothing(netns_dir):
    files = wanted(netns_dir)
    converge(netns_dir, files)
    result = converge(netns_dir, files)
    assert (result['changed'], result['commands']) == (False, [])
    assert result['diff']['before'] == result['diff']['after'] == dict(files=made_here(netns_dir, files))


def test_check_mode_reports_the_changes_and_makes_none(netns_dir):
    files = wanted(netns_dir)
    result = converge(netns_dir, files, check_mode=True)
    assert result['changed'] is True and len(result['commands']) == 4
    assert not os.path.exists(netns_dir)
    converge(netns_dir, files)
    before = {path: os.stat(path).st_mtime_ns for path in files}
    changed = wanted(netns_dir, dict(LAB, extra_hosts=['gw:10.0.0.1']))
    result = converge(netns_dir, changed, check_mode=True)
    assert result['changed'] is True
    assert result['commands'] == ['mkdir -p %s && cat > %s  # %d lines' % (
        os.path.dirname(path), path, len(changed[path].splitlines()) + 1) for path in sorted(changed)
        if path.endswith('/hosts')]
    assert read_name_files(netns_dir) == made_here(netns_dir, files)
    assert {path: os.stat(path).st_mtime_ns for path in files} == before
    # A teardown in check mode too.
    assert converge(netns_dir, {}, check_mode=True)['changed'] is True
    assert read_name_files(netns_dir) == made_here(netns_dir, files)


def test_the_diff_shows_the_file_texts_before_and_after(netns_dir):
    files = wanted(netns_dir)
    converge(netns_dir, files)
    changed = wanted(netns_dir, dict(LAB, dns=['198.51.100.53']))
    result = converge(netns_dir, changed)
    resolv = os.path.join(netns_dir, 'ns1', 'resolv.conf')
    assert result['diff']['before']['files'][resolv] == made_here(netns_dir, files)[resolv]
    assert 'nameserver 192.0.2.53\n' in result['diff']['before']['files'][resolv]
    assert result['diff']['after']['files'][resolv] == made_here(netns_dir, changed)[resolv]
    assert 'nameserver 198.51.100.53\n' in result['diff']['after']['files'][resolv]
    assert read(resolv) == made_here(netns_dir, changed)[resolv]


def test_a_dropped_namespace_goes_with_its_directory(netns_dir):
    converge(netns_dir, wanted(netns_dir))
    inode = os.stat(os.path.join(netns_dir, 'ns1', 'hosts')).st_ino
    result = converge(netns_dir, wanted(netns_dir, dict(LAB, namespaces=[dict(name='ns1')])))
    assert files_below(netns_dir) == ['ns1/hosts', 'ns1/resolv.conf']
    assert 'ns2' not in os.listdir(netns_dir)
    assert 'rm -f %s' % os.path.join(netns_dir, 'ns2', 'hosts') in result['commands']
    assert os.stat(os.path.join(netns_dir, 'ns1', 'hosts')).st_ino == inode


def test_a_teardown_removes_only_the_labs_files(netns_dir):
    converge(netns_dir, wanted(netns_dir))
    other = wanted(netns_dir, dict(name='db', namespaces=[dict(name='pg')]))
    converge(netns_dir, other, lab='db')
    write(os.path.join(netns_dir, 'mine', 'resolv.conf'), 'nameserver 1.1.1.1\n')
    write(os.path.join(netns_dir, 'ns1', 'nsswitch.conf'), 'hosts: files\n')
    result = converge(netns_dir, {})
    assert result['changed'] is True
    assert files_below(netns_dir) == ['mine/resolv.conf', 'ns1/nsswitch.conf', 'pg/hosts', 'pg/resolv.conf']
    assert read_name_files(os.path.join(netns_dir))[os.path.join(netns_dir, 'pg', 'hosts')] == made_here(
        netns_dir, other)[os.path.join(netns_dir, 'pg', 'hosts')]
    assert result['diff']['after'] == dict(files={})
    assert sorted(result['diff']['before']['files']) == sorted(wanted(netns_dir))
    # The last lab's teardown leaves no empty directory behind (once the others' files are gone).
    for name in ('mine/resolv.conf', 'ns1/nsswitch.conf'):
        os.unlink(os.path.join(netns_dir, name))
        os.rmdir(os.path.dirname(os.path.join(netns_dir, name)))
    converge(netns_dir, {}, lab='db')
    assert not os.path.exists(netns_dir)


def test_a_teardown_of_nothing_changes_nothing(netns_dir):
    result = converge(netns_dir, {})
    assert (result['changed'], result['commands']) == (False, [])


def test_a_foreign_file_fails_the_step_and_nothing_is_written(netns_dir):
    foreign = os.path.join(netns_dir, 'ns2', 'resolv.conf')
    write(foreign, 'nameserver 1.1.1.1\n')
    with pytest.raises(TaskFailed) as caught:
        converge(netns_dir, wanted(netns_dir))
    assert caught.value.fields['changed'] is False
    assert caught.value.fields['problems'] == [
        "%s exists and was not written by nslab.net; the lab never overwrites it (remove it, or set lab_names: false "
        "to manage the namespaces' names yourself)" % foreign]
    assert files_below(netns_dir) == ['ns2/resolv.conf']
    assert read(foreign) == 'nameserver 1.1.1.1\n'


def test_another_labs_file_fails_the_step_naming_that_lab(netns_dir):
    converge(netns_dir, wanted(netns_dir, dict(name='db', namespaces=[dict(name='ns1')])), lab='db')
    with pytest.raises(TaskFailed) as caught:
        converge(netns_dir, wanted(netns_dir))
    assert "%s belongs to lab db; give this lab's namespace another name" % os.path.join(
        netns_dir, 'ns1', 'hosts') in caught.value.msg
    assert files_below(netns_dir) == ['ns1/hosts', 'ns1/resolv.conf']


def test_a_failed_write_fails_the_step_as_changed_with_its_commands(netns_dir, monkeypatch):
    def refuse(path, data, mode=0o644):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(adapter, 'write_atomically', refuse)
    with pytest.raises(TaskFailed) as caught:
        converge(netns_dir, wanted(netns_dir))
    assert caught.value.msg == 'cannot write %s: [Errno 28] No space left on device' % os.path.join(
        netns_dir, 'ns1', 'hosts')
    assert caught.value.fields['changed'] is True and len(caught.value.fields['commands']) == 4


def test_an_unreadable_name_file_fails_the_step_unchanged(netns_dir, monkeypatch):
    write(os.path.join(netns_dir, 'ns1', 'hosts'), 'x\n')

    def refuse(name):
        raise OSError(errno.EIO, 'Input/output error')

    monkeypatch.setattr(adapter, 'read_text', refuse)
    with pytest.raises(TaskFailed) as caught:
        converge(netns_dir, {})
    assert caught.value.msg.startswith('cannot read %s: ' % os.path.join(netns_dir, 'ns1', 'hosts'))
    assert caught.value.fields == dict(changed=False)


# The preflight

def test_the_preflight_names_foreign_files_of_the_namespaces_the_plan_writes(monkeypatch):
    from ansible_collections.nslab.net.plugins.module_utils._lab import runner
    plan = lab_plan(lab_spec(dict(DEFAULTS, **LAB)), HOST)
    found = {'/etc/netns/ns2/hosts': '10.0.0.9 someone\n', '/etc/netns/elsewhere/hosts': 'not ours either\n'}
    monkeypatch.setattr(runner, 'read_name_files', lambda: found)
    assert runner._names_problems('web', plan) == [
        "/etc/netns/ns2/hosts exists and was not written by nslab.net; the lab never overwrites it (remove it, or set "
        "lab_names: false to manage the namespaces' names yourself)"]
    # Names off: the lab writes nothing, and reads nothing.
    off = lab_plan(lab_spec(dict(DEFAULTS, names=False, **LAB)), HOST)
    monkeypatch.setattr(runner, 'read_name_files', lambda: pytest.fail('read'))
    assert runner._names_problems('web', off) == []


def test_the_preflight_turns_an_unreadable_file_into_a_problem(monkeypatch):
    from ansible_collections.nslab.net.plugins.module_utils._lab import runner

    def refuse():
        raise NamesError('cannot read /etc/netns/ns1/hosts: [Errno 5] Input/output error')

    monkeypatch.setattr(runner, 'read_name_files', refuse)
    plan = lab_plan(lab_spec(dict(DEFAULTS, **LAB)), HOST)
    assert runner._names_problems('web', plan) == ['cannot read /etc/netns/ns1/hosts: [Errno 5] Input/output error']


def test_a_teardown_keeps_the_directories_that_were_there_before_the_lab(netns_dir):
    # An empty /etc/netns/ns1 and /etc/netns of the host's own, before the lab: they stay.
    os.makedirs(os.path.join(netns_dir, 'ns1'), mode=0o700)
    converge(netns_dir, wanted(netns_dir))
    hosts = read(os.path.join(netns_dir, 'ns1', 'hosts')).splitlines()
    assert not hosts[1].startswith('# nslab.net made')  # it made neither ns1's directory nor /etc/netns
    assert read(os.path.join(netns_dir, 'ns2', 'hosts')).splitlines()[1] == '# nslab.net made: %s' % os.path.join(
        netns_dir, 'ns2')
    converge(netns_dir, {})
    assert sorted(os.listdir(netns_dir)) == ['ns1'] and os.listdir(os.path.join(netns_dir, 'ns1')) == []
    assert os.stat(os.path.join(netns_dir, 'ns1')).st_mode & 0o777 == 0o700


def test_the_labs_together_remove_the_directory_one_of_them_made(netns_dir):
    converge(netns_dir, wanted(netns_dir))
    other = wanted(netns_dir, dict(name='db', namespaces=[dict(name='pg')]))
    converge(netns_dir, other, lab='db')
    # db's files remember that a lab made /etc/netns, so whichever lab goes last removes it.
    assert '# nslab.net made: %s %s' % (netns_dir, os.path.join(netns_dir, 'pg')) in read(
        os.path.join(netns_dir, 'pg', 'hosts'))
    converge(netns_dir, {})
    assert os.listdir(netns_dir) == ['pg']
    converge(netns_dir, {}, lab='db')
    assert not os.path.exists(netns_dir)


def test_the_step_uses_what_the_preflight_read_and_reads_nothing_again(netns_dir, monkeypatch):
    files = wanted(netns_dir)
    converge(netns_dir, files)
    found = adapter.read_name_files(netns_dir)
    monkeypatch.setattr(task, 'read_name_files', lambda directory: pytest.fail('read again'))
    result = converge_names(FakeModule(), dict(lab='web', files=files, directory=netns_dir), current=found)
    assert (result['changed'], result['commands']) == (False, [])
