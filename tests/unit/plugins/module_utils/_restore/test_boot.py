# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nslab-restore@NAME.service runs at boot: the journal's lines, and the zip application.

The end-to-end tests build what Ansible would send, an AnsiballZ-like zip (ansible-core's
module_utils from this venv under an empty ``ansible`` package, the collection's
module_utils, the module, and the wrapper's ``sitecustomize.py`` and ``__main__.py``), store
it with the adapter's own ``_zipapp``, and run ``python3 LAB.pyz LAB.json`` as the unit does,
without site-packages, so everything it imports comes from the zip. The module is a stand-in
built on the real AnsibleModule and lab_network's argument spec that changes nothing (the
real lab_network would build the lab on this machine): the environment variable
``NSLAB_FAKE`` says how it ends. One test runs the real lab_network on a declaration that
AnsibleModule rejects, which it does before anything else.
"""

from __future__ import annotations


import io
import json
import os
import subprocess
import sys
import zipfile

import ansible
import pytest
from ansible.release import __version__ as ansible_version

from ansible_collections.nslab.net.plugins.module_utils._restore import adapter, boot
from ansible_collections.nslab.net.plugins.module_utils._restore.boot import _check, _result, report

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(boot.__file__)))))
ANSIBLE = os.path.dirname(os.path.abspath(ansible.__file__))
PACKAGE = 'ansible_collections/nslab/net'
ANSIBLE_2_19 = tuple(int(part) for part in ansible_version.split('.')[:2]) >= (2, 19)

#: A stand-in for lab_network: the real AnsibleModule reads the declaration; it changes nothing.
FAKE_MODULE = '''
import os
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.respawn import has_respawned, respawn_module
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import LAB_ARGS


def main():
    module = AnsibleModule(supports_check_mode=True, **LAB_ARGS)
    how = os.environ['NSLAB_FAKE']
    if how == 'respawn' and not has_respawned():
        respawn_module(sys.executable)
    print('a line the module printed that is not its result')
    if how == 'crash':
        raise RuntimeError('the module crashed')
    if how == 'failed':
        module.fail_json(msg='veth: ns2-eth0: File exists', failed_step='veth', commands=['ip netns add ns1'])
    module.warn('the uplink eth0 has no IPv4 address')
    names = [ns['name'] for ns in module.params['namespaces']]
    plan = dict(netns=names, publish=[dict(ports=['8000:8000']), dict(ports=[])], services=[dict(name=names[0])])
    module.exit_json(changed=how != 'unchanged', plan=plan,
                     commands=['ip netns add %s' % name for name in names] + ['respawned: %s' % has_respawned()])


if __name__ == '__main__':
    main()
'''
ARGS = dict(name='web', namespaces=[dict(name='ns1'), dict(name='ns2')])


def _tree(root, prefix):
    """``{member: bytes}`` of the Python files below ``root``, named ``prefix/...``."""
    members = {}
    for directory, unused, files in os.walk(root):
        for name in files:
            if name.endswith('.py'):
                full = os.path.join(directory, name)
                with open(full, 'rb') as handle:
                    members['%s/%s' % (prefix, os.path.relpath(full, root))] = handle.read()
    return members


def ansiballz(path, module_source):
    """An AnsiballZ-like zip of the module ``module_source`` at ``path``."""
    members = {'ansible/__init__.py': b''}
    members.update(_tree(os.path.join(ANSIBLE, 'module_utils'), 'ansible/module_utils'))
    members.update(_tree(os.path.join(COLLECTION, 'plugins', 'module_utils'), PACKAGE + '/plugins/module_utils'))
    module = '%s/plugins/modules/lab_network.py' % PACKAGE
    members[module] = module_source.encode('utf-8')
    # Every package is a regular one, with an empty __init__.py where it has none, as in AnsiballZ.
    for member in list(members):
        parts = member.split('/')
        for index in range(1, len(parts)):
            members.setdefault('/'.join(parts[:index]) + '/__init__.py', b'')
    members['sitecustomize.py'] = ('import sys\nsys.path.insert(0, "%s")\n' % path).encode('utf-8')
    members['__main__.py'] = b'raise SystemExit("the AnsiballZ wrapper runs the module, not this")\n'
    with zipfile.ZipFile(str(path), 'w', zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            archive.writestr(name, members[name])
    return str(path)


def store(directory, source, args, lab='web', code=None):
    """Store ``source`` and a declaration of ``args`` in ``directory`` as a build would."""
    code_path = os.path.join(str(directory), '%s.pyz' % lab)
    with open(code_path, 'wb') as handle:
        handle.write(adapter._zipapp(source))
    declaration = os.path.join(str(directory), '%s.json' % lab)
    with open(declaration, 'w') as handle:
        json.dump(dict(ANSIBLE_MODULE_ARGS=args, nslab=dict(version=1, lab=lab, code=code or adapter.code_digest(source))),
                  handle)
    return code_path, declaration


@pytest.fixture(scope='module')
def fake(tmp_path_factory):
    """``(code, declaration)`` of the stand-in module, stored as lab web."""
    directory = tmp_path_factory.mktemp('restore')
    return store(directory, ansiballz(directory / 'payload.zip', FAKE_MODULE), ARGS)


def run_unit(code, declaration, how='changed', *extra):
    """What ExecStart runs; no site-packages (-S), no PYTHON* variables (-E), no user site (-s)."""
    env = dict(os.environ, NSLAB_FAKE=how)
    done = subprocess.run([sys.executable, '-E', '-s', '-S', code, declaration] + list(extra), env=env,
                          capture_output=True, timeout=120, check=False)
    return done.returncode, done.stdout.decode('utf-8'), done.stderr.decode('utf-8')


# The journal's lines.

PLAN = dict(netns=['ns1', 'ns2'], publish=[dict(ports=['8000:8000', '8443:443']), dict(ports=[])],
            services=[dict(name='ns1')])


def test_a_restore_lists_what_it_did():
    result = dict(changed=True, plan=PLAN, commands=['ip netns add ns1', 'ip netns add ns2'],
                  warnings=['the uplink eth0 has no IPv4 address'])
    assert report('web', result, 0) == [
        'restored lab web: 2 namespaces, 2 published ports, 1 services, in 2 commands:',
        '  ip netns add ns1',
        '  ip netns add ns2',
        'warning: the uplink eth0 has no IPv4 address']


def test_a_restore_with_nothing_to_do_says_so_on_one_line():
    assert report('web', dict(changed=False, plan=PLAN, commands=[]), 0) == [
        'lab web is already as declared (2 namespaces, 2 published ports, 1 services): nothing to do']


def test_a_failed_restore_names_the_step_and_what_was_done_before_it():
    result = dict(failed=True, msg='veth: ns2-eth0: File exists', failed_step='veth',
                  commands=['ip netns add ns1', 'ip netns add ns2'])
    assert report('web', result, 1) == [
        'lab web not restored: veth: ns2-eth0: File exists',
        'failed at step veth; the commands done before it:',
        '  ip netns add ns1',
        '  ip netns add ns2']


def test_a_failure_before_any_step_is_one_line():
    assert report('web', dict(failed=True, msg='unsupported parameters: x'), 1) == [
        'lab web not restored: unsupported parameters: x']
    assert report('web', dict(changed=True), 3) == ['lab web not restored: lab_network failed (exit status 3)']


def test_the_result_is_the_last_line_that_is_a_json_object():
    text = 'a line\n{"changed": false}\n[1, 2]\n{"changed": true, "plan": {}}\nnot json\n"a string"\n\n'
    assert _result(text) == dict(changed=True, plan={})


def test_a_module_that_printed_no_result_failed():
    assert _result('') == dict(failed=True, msg='the module printed no result: (nothing)')
    assert _result('Traceback (most recent call last):\n  oops\n') == dict(
        failed=True, msg='the module printed no result: Traceback (most recent call last):\n  oops')


# The check of the stored pair.

def test_a_declaration_written_for_other_code_is_refused(tmp_path):
    source = ansiballz(tmp_path / 'payload.zip', FAKE_MODULE)
    code, declaration = store(tmp_path, source, ARGS, code='sha256:' + '0' * 64)
    lab, problem = _check(declaration, code)
    assert lab == 'web'
    assert problem == ('%s was written for other code than %s (a run was interrupted between the two); run the '
                       'playbook to rebuild the lab and store both again' % (declaration, code))
    assert _check(store(tmp_path, source, ARGS)[1], code) == ('web', None)


def test_an_unreadable_declaration_is_named_with_its_error(tmp_path):
    code = store(tmp_path, ansiballz(tmp_path / 'payload.zip', FAKE_MODULE), ARGS)[0]
    missing = str(tmp_path / 'db.json')
    lab, problem = _check(missing, code)
    assert lab == 'db' and problem.startswith('cannot read %s with %s: [Errno 2] No such file or directory' % (missing, code))
    broken = tmp_path / 'broken.json'
    broken.write_text('{"ANSIBLE_MODULE_ARGS": {}')
    assert _check(str(broken), code)[1].startswith('cannot read %s with %s: Expecting' % (broken, code))
    old = tmp_path / 'old.json'
    old.write_text('{"ANSIBLE_MODULE_ARGS": {}}')
    assert _check(str(old), code) == ('old', "cannot read %s with %s: 'nslab'" % (old, code))
    assert _check(str(old), str(broken))[1].startswith('cannot read %s with %s: ' % (old, broken))


def test_main_wants_exactly_the_declaration():
    out = io.StringIO()
    assert boot.main([], out) == 2
    assert out.getvalue() == 'usage: python3 NAME.pyz NAME.json (the unit nslab-restore@NAME.service runs it)\n'


# The zip application, run as the unit runs it.

def test_the_stored_code_finds_itself_as_its_running_code(fake):
    code = fake[0]
    done = subprocess.run([sys.executable, '-E', '-s', '-S', '-c',
                           'import sys; sys.path.insert(0, sys.argv[1]); from %s import running_code; '
                           'print(running_code())' % adapter.__name__, code],
                          capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.decode('utf-8').strip()) == (0, code), done.stderr


def test_a_restore_that_changed_the_lab_reports_its_commands_and_exits_0(fake):
    status, out, err = run_unit(*fake, how='changed')
    assert status == 0, err
    assert out.splitlines()[:4] == [
        'restored lab web: 2 namespaces, 1 published ports, 1 services, in 3 commands:',
        '  ip netns add ns1',
        '  ip netns add ns2',
        '  respawned: False']


def test_a_restore_with_nothing_to_do_exits_0(fake):
    status, out, err = run_unit(*fake, how='unchanged')
    assert (status, out) == (0, 'lab web is already as declared (2 namespaces, 1 published ports, 1 services): '
                                'nothing to do\n'), err


def test_a_failed_restore_exits_with_the_module_status(fake):
    status, out, err = run_unit(*fake, how='failed')
    assert (status, out) == (1, 'lab web not restored: veth: ns2-eth0: File exists\n'
                                'failed at step veth; the commands done before it:\n'
                                '  ip netns add ns1\n'), err


def test_the_result_of_a_module_that_respawned_is_caught_from_the_child(fake):
    status, out, err = run_unit(*fake, how='respawn')
    assert status == 0, err
    assert out.splitlines()[:4] == [
        'restored lab web: 2 namespaces, 1 published ports, 1 services, in 3 commands:',
        '  ip netns add ns1',
        '  ip netns add ns2',
        '  respawned: True']


def test_the_module_warnings_are_reported_as_text(fake):
    # ansible-core 2.19 returns each warning as {"event": {"msg": ...}, ...}, earlier ones a string.
    status, out, err = run_unit(*fake, how='changed')
    assert status == 0, err
    assert out.splitlines()[4:] == ['warning: the uplink eth0 has no IPv4 address']


def test_a_module_that_crashes_fails_the_unit_with_its_traceback(fake):
    # As the AnsiballZ wrapper would, the crash becomes a failed result; the traceback goes to stderr.
    status, out, err = run_unit(*fake, how='crash')
    assert status == 1
    assert out.splitlines() == ['lab web not restored: lab_network crashed: RuntimeError: the module crashed']
    assert 'RuntimeError: the module crashed' in err and 'Traceback' in err


def test_a_declaration_for_other_code_is_not_run(tmp_path):
    source = ansiballz(tmp_path / 'payload.zip', FAKE_MODULE)
    code, declaration = store(tmp_path, source, ARGS, code='sha256:' + '0' * 64)
    status, out, err = run_unit(code, declaration, 'changed')
    assert status == 1, err
    assert out == ('lab web not restored: %s was written for other code than %s (a run was interrupted between the '
                   'two); run the playbook to rebuild the lab and store both again\n' % (declaration, code))


def test_the_unit_without_its_declaration_prints_the_usage(fake):
    done = subprocess.run([sys.executable, '-E', '-s', '-S', fake[0]], capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and done.stdout.decode('utf-8').startswith('usage: python3 NAME.pyz NAME.json')


def test_the_real_lab_network_reads_the_declaration_and_reports_what_it_rejects(tmp_path):
    with open(os.path.join(COLLECTION, 'plugins', 'modules', 'lab_network.py')) as handle:
        source = ansiballz(tmp_path / 'payload.zip', handle.read())
    # AnsibleModule rejects the arguments in its constructor, before lab_network does anything.
    code, declaration = store(tmp_path, source, dict(name='web', state='bogus'))
    status, out, err = run_unit(code, declaration, 'changed')
    assert (status, out) == (1, 'lab web not restored: value of state must be one of: present, absent, got: bogus\n'), err
