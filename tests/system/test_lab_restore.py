# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab at boot: what ``playbooks/lab.yml`` stores for ``nslab-restore@LAB.service``, and a
reboot that brings the lab back by running that unit's ExecStart, without Ansible.

The hosts are :class:`fake_systemd.DiskHost`: sandbox worlds whose /var/lib and
/etc/systemd/system are scratch directories of the test that outlive the world (a reboot
stops the world and starts another on the same disk), where systemd looks like init (or,
for the host where it is not, does not) and ``systemctl`` only logs what it was asked. After
a reboot the test runs exactly the ExecStart of the stored template unit, as systemd would
at boot, and demands the lab the last successful run declared: the same namespaces,
addresses, routes and rules as before the reboot, and its traffic.

The services run under ``lab_service_manager: process`` (with /run/systemd/system present,
``auto`` would pick systemd, which does not run here). The files must never reach this
machine itself: every test ends by checking that its /etc/systemd/system and /var/lib hold
no restore file and no mount of the disks.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import tempfile
import time
import zipfile

import pytest
import yaml

from ansible_runs import REPO, VENV
from fake_systemd import DiskHost, instance, machine_view, read
from firewall_lab import ECHO_HTTP, http_get, start_http, stop, wait_until
from lab_state import diff, lab_state
from nslab_sandbox import HOST_ADDRESS, INTERNET_ADDRESS, OTHER_ADDRESS, World
from test_lab_lifecycle import assert_refused, built, converged, kill_run, shown, unchanged
from test_lab_role import PLAYBOOK, Play, addresses_of, reaches

pytestmark = pytest.mark.system

RESTORE_DIR = '/var/lib/nslab/restore'
TEMPLATE_IN_WORLD = '/etc/systemd/system/nslab-restore@.service'
MARKER = '# Written by nslab.net.lab_network'
AT_BOOT = 'AT BOOT  restored by nslab-restore@%s.service'
NOT_SYSTEMD = 'AT BOOT  not restored: systemd is not the init system here'
NOT_WANTED = 'AT BOOT  not restored: restore_at_boot is false'

with open(os.path.join(REPO, 'playbooks', 'labs', 'seeds.yml'), encoding='utf-8') as _handle:
    SEEDS_FILE = yaml.safe_load(_handle)
#: ns1's service answers with the client address it saw (the seeds' http.server does not).
SERVICE = 'exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP
SEEDS = dict(SEEDS_FILE, lab_namespaces=[dict(ns, command=SERVICE) if ns.get('command') else ns
                                         for ns in SEEDS_FILE['lab_namespaces']])
NS1, NS2 = SEEDS['lab_namespaces']
GATEWAY = SEEDS['lab_gateway']
# ns2 loses its address and ns3, without one, comes before it: on the running lab ns2 keeps
# 10.0.0.2 and ns3 gets 10.0.0.3, where a fresh allocation in this order gives ns3 10.0.0.2.
EDITED = dict(SEEDS, lab_namespaces=[NS1, dict(name='ns3'), dict(name='ns2')])
EDITED_ADDRESSES = {'ns1': '10.0.0.1', 'ns3': '10.0.0.3', 'ns2': '10.0.0.2'}
TWO = dict(lab_name='two', lab_bridge='br-two', lab_subnet='10.9.0.0/24', lab_gateway='10.9.0.1',
           lab_namespaces=[dict(name='t1', publish=['8002:8000'], command=SERVICE)])
#: Every run: no package step, services as processes, no diagram on the controller.
RUN_DEFAULTS = dict(lab_install_packages=False, lab_service_manager='process', lab_diagram=False)


def url(address, port=8000):
    return 'http://%s:%d/' % (address, port)


@pytest.fixture(autouse=True)
def machine_keeps_its_own_files():
    """The restore files and the disks' mounts stay in the worlds: this machine's own
    /etc/systemd/system and /var/lib show none of them, before and after each test."""
    before = machine_view()
    assert not (before['template'] or before['state_dir'] or before['links'] or before['mounts']), before
    yield
    assert machine_view() == before


@pytest.fixture
def host(tmp_path):
    """A booted host where systemd is init, on a disk of its own."""
    with DiskHost(tmp_path / 'disk') as started:
        yield started


def variables_file(directory, variables):
    path = os.path.join(directory, 'lab.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump(dict(RUN_DEFAULTS, **variables), handle)
    return path


def play(disk_host, variables, *args, check=False):
    """``ansible-playbook playbooks/lab.yml`` with ``variables`` on the host's running world."""
    with tempfile.TemporaryDirectory(prefix='nslab-restore-') as tmp:
        argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), PLAYBOOK, '-e', '@' + variables_file(tmp, variables)]
        argv += list(args) + (['--check', '--diff'] if check else [])
        return Play(disk_host.world.run(argv, check=False, env=disk_host.env(), cwd=tmp, timeout=600))


def declared(disk_host, lab='lab'):
    with open(disk_host.declaration(lab), encoding='utf-8') as handle:
        return json.load(handle)


def declared_addresses(declaration):
    return {ns['name']: [m['address'] for m in ns['networks']]
            for ns in declaration['ANSIBLE_MODULE_ARGS']['namespaces']}


def hidden_files(disk_host):
    """Temporary files (names starting with a dot) in the restore directory and the unit
    directories."""
    found = []
    for directory in (disk_host.restore_dir, disk_host.units, os.path.dirname(disk_host.link())):
        if os.path.isdir(directory):
            found += [os.path.join(directory, name) for name in os.listdir(directory) if name.startswith('.')]
    return found


def restore_files(disk_host, lab='lab'):
    """Which of ``lab``'s restore files and the template are on the disk."""
    return dict(declaration=os.path.exists(disk_host.declaration(lab)), code=os.path.exists(disk_host.code(lab)),
                link=os.path.lexists(disk_host.link(lab)), template=os.path.exists(disk_host.template))


#: The name write_atomically gives a file before renaming it over ``name`` (a leading dot).
TEMPORARY = re.compile(r'^\.(lab\.json|lab\.pyz|nslab-restore@\.service)\.[^/]+\.tmp$')


def files_but_directories(files):
    return {name: entry for name, entry in files.items() if entry[0] != 'dir'}


NONE = dict(declaration=False, code=False, link=False, template=False)
ALL = dict(declaration=True, code=True, link=True, template=True)


def lab_gone(world):
    """Nothing of a lab on the world's host: no namespace, bridge, veth (but the world's own
    uplink) or NSLAB rule."""
    state = lab_state(world)
    return (not state['namespaces'] and [link['name'] for link in state['host_links']] == [World.UPLINK]
            and not any(tables for tables in state['iptables'].values())), state


def restored(disk_host, lab='lab'):
    """Run the ExecStart of ``lab``'s unit; it must have restored the lab."""
    proc = disk_host.exec_start(lab)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith('restored lab %s: ' % lab), proc.stdout + proc.stderr
    return proc


def port_answers(world, port=8000, gateway=GATEWAY):
    """The published port answers on the host's loopback (the service sees the lab's gateway)
    and from the other machine (it sees that machine's address); waits for the service."""
    wait_until(lambda: http_get(world, 'host', url('127.0.0.1', port), timeout=1) is not None,
               'port %d on 127.0.0.1' % port)
    assert http_get(world, 'host', url('127.0.0.1', port)) == gateway
    assert http_get(world, 'other', url(HOST_ADDRESS, port)) == OTHER_ADDRESS


# -- what a build stores ------------------------------------------------------------------------

def test_a_build_stores_the_code_the_declaration_and_the_unit(host):
    first = built(play(host, SEEDS))
    assert AT_BOOT % 'lab' in first.output, shown(first)
    assert restore_files(host) == ALL

    files = host.files()
    # The declaration and the code are root's alone, in a directory that is root's alone.
    for name, mode in (('var-lib/nslab/restore', 0o700), ('var-lib/nslab/restore/lab.json', 0o600),
                       ('var-lib/nslab/restore/lab.pyz', 0o600), ('systemd/nslab-restore@.service', 0o644)):
        kind, found, uid, gid = files[name][:4]
        assert (found, uid, gid) == (mode, 0, 0), (name, oct(found), uid, gid)
    assert hidden_files(host) == []

    unit = read(host.template)
    lines = unit.splitlines()
    assert lines[0].startswith(MARKER)
    settings = [line.split('=', 1) for line in lines if '=' in line and not line.startswith('#')]
    assert 'network-online.target' in [word for key, value in settings if key == 'After' for word in value.split()]
    assert 'Wants=network-online.target' in lines
    assert 'WantedBy=multi-user.target' in lines and 'Type=oneshot' in lines
    python, *rest = host.exec_start_argv('%i')
    assert rest == ['%s/%%i.pyz' % RESTORE_DIR, '%s/%%i.json' % RESTORE_DIR]
    assert os.path.isabs(python) and host.world.run([python, '-c', 'import pyroute2'], check=False).returncode == 0
    # Enabled as `systemctl enable` would: the instance's link to the template.
    assert os.readlink(host.link()) == TEMPLATE_IN_WORLD
    assert host.daemon_reloads() == 1

    declaration = declared(host)
    assert declaration['nslab']['lab'] == 'lab' and declaration['nslab']['version'] == 1
    assert declaration['nslab']['code'].startswith('sha256:')
    args = declaration['ANSIBLE_MODULE_ARGS']
    assert args['name'] == 'lab' and args['state'] == 'present' and args['bridge'] == 'br0'
    assert 'restore_at_boot' not in args and 'diagram_path' not in args
    assert declared_addresses(declaration) == {'ns1': ['10.0.0.1'], 'ns2': ['10.0.0.2']}
    # The code is the module with what it imports, and a __main__ instead of Ansible's wrapper.
    with zipfile.ZipFile(host.code()) as code:
        names = set(code.namelist())
    assert '__main__.py' in names and 'sitecustomize.py' not in names
    assert 'ansible_collections/nslab/net/plugins/modules/lab_network.py' in names
    assert 'ansible_collections/nslab/net/plugins/module_utils/_restore/boot.py' in names

    # A run with nothing to do rewrites nothing (same inodes and times) and reloads nothing.
    unchanged(play(host, SEEDS))
    assert host.files() == files
    assert host.daemon_reloads() == 1


def test_a_check_run_stores_and_removes_nothing(host):
    checked = built(play(host, SEEDS, check=True))
    assert checked.changed > 0
    assert host.files() == {} and host.systemctl_calls() == []
    built(play(host, SEEDS))
    files = host.files()
    assert built(play(host, EDITED, check=True)).changed > 0
    assert built(play(host, SEEDS, '-e', 'lab_state=absent', check=True)).changed > 0
    assert built(play(host, SEEDS, '-e', 'lab_restore_at_boot=false', check=True)).changed > 0
    assert host.files() == files and host.daemon_reloads() == 1


# -- a reboot -------------------------------------------------------------------------------------

def test_a_reboot_brings_the_lab_back_without_ansible(host):
    built(play(host, SEEDS))
    before = lab_state(host.world)
    files, reloads = host.files(), host.daemon_reloads()

    world = host.reboot()
    gone, state = lab_gone(world)
    assert gone, state
    proc = restored(host)
    assert 'ip netns add ns1' in proc.stdout
    port_answers(world)
    state = lab_state(world)
    assert state == before, 'the restored lab differs:\n' + diff(before, state, 'before the reboot', 'restored')
    assert http_get(world, 'netns:ns2', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS
    # The restore stored nothing again: its code and declaration are those it runs.
    assert host.files() == files and host.daemon_reloads() == reloads

    again = host.exec_start()
    assert again.returncode == 0 and 'lab lab is already as declared' in again.stdout, again.stdout + again.stderr
    unchanged(play(host, SEEDS))
    assert host.files() == files and host.daemon_reloads() == reloads


def test_a_declaration_written_for_other_code_is_not_restored(host):
    built(play(host, SEEDS))
    world = host.reboot()
    text = read(host.declaration())
    tampered = json.loads(text)
    tampered['nslab']['code'] = 'sha256:' + '0' * 64
    with open(host.declaration(), 'w', encoding='utf-8') as handle:
        json.dump(tampered, handle)
    proc = host.exec_start()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.startswith('lab lab not restored: ') and 'interrupted' in proc.stdout, proc.stdout
    gone, state = lab_gone(world)
    assert gone, state
    # Positive control: the declaration as the run wrote it is restored by the same command.
    with open(host.declaration(), 'w', encoding='utf-8') as handle:
        handle.write(text)
    restored(host)
    port_answers(world)


def test_an_edit_is_restored_with_the_addresses_the_lab_had(host, tmp_path):
    built(play(host, SEEDS))
    seeds_declaration = read(host.declaration())
    converged(play(host, EDITED))
    unchanged(play(host, EDITED))
    world = host.world
    assert {name: addresses_of(world, name) for name in EDITED_ADDRESSES} == \
        {name: [address] for name, address in EDITED_ADDRESSES.items()}
    declaration = declared(host)
    assert read(host.declaration()) != seeds_declaration
    assert declared_addresses(declaration) == {name: [address] for name, address in EDITED_ADDRESSES.items()}
    assert [ns['name'] for ns in declaration['ANSIBLE_MODULE_ARGS']['namespaces']] == ['ns1', 'ns3', 'ns2']
    before = lab_state(world)

    world = host.reboot()
    restored(host)
    state = lab_state(world)
    assert state == before, 'the restored lab differs:\n' + diff(before, state, 'before the reboot', 'restored')
    port_answers(world)
    assert reaches(world, 'netns:ns3', '10.0.0.2')
    assert http_get(world, 'netns:ns3', 'http://%s/' % INTERNET_ADDRESS) == HOST_ADDRESS
    unchanged(play(host, EDITED))

    # Control: a host that never ran the seeds allocates the edited lab otherwise, so the
    # addresses above came from the declaration, not from allocating again.
    with DiskHost(tmp_path / 'fresh', systemd=False) as fresh:
        built(play(fresh, EDITED))
        assert addresses_of(fresh.world, 'ns3') == ['10.0.0.2'] and addresses_of(fresh.world, 'ns2') == ['10.0.0.3']


def test_a_failed_run_keeps_the_previous_declaration(host):
    built(play(host, SEEDS))
    before = lab_state(host.world)
    text, files = read(host.declaration(), 'rb'), host.files()

    # Refused by the host in the preflight: a process of the host listens on the port.
    listener = start_http(host.world, 'host', '0.0.0.0', 8001)
    try:
        assert_refused(play(host, dict(SEEDS, lab_namespaces=[dict(NS1, publish=['8001:8000']), NS2])), '8001')
    finally:
        stop(listener)
    assert host.files() == files

    # Failed halfway: ns4 is made, then its service exits at once.
    failing = dict(SEEDS, lab_namespaces=[NS1, NS2, dict(name='ns4', command='exec python3 -m http.servr 8000')])
    failed = play(host, failing)
    assert failed.rc != 0 and failed.failed == 1 and 'exited right after it started' in failed.output, shown(failed)
    assert 'ns4' in host.world.run(['ip', 'netns', 'list']).stdout
    assert read(host.declaration(), 'rb') == text
    assert host.files() == files and hidden_files(host) == []

    # What comes back at boot is the lab of the last run that succeeded.
    world = host.reboot()
    restored(host)
    state = lab_state(world)
    assert state == before, 'the restored lab differs:\n' + diff(before, state, 'the last successful run', 'restored')


# -- removal --------------------------------------------------------------------------------------

def test_a_teardown_removes_what_restores_the_lab_first(host):
    built(play(host, SEEDS))
    down = play(host, SEEDS, '-e', 'lab_state=absent')
    assert down.rc == 0 and down.failed == 0 and down.changed > 0, shown(down)
    assert restore_files(host) == NONE
    assert not os.path.exists(host.restore_dir) and not os.path.exists(host.state_dir)
    assert host.daemon_reloads() == 2
    unchanged(play(host, SEEDS, '-e', 'lab_state=absent'))
    assert host.daemon_reloads() == 2

    # After a reboot nothing is enabled, so nothing runs; and nothing is there to run.
    world = host.reboot()
    assert not os.path.lexists(host.link())
    assert os.listdir(host.var_lib) == [] and not os.path.exists(host.template)
    gone, state = lab_gone(world)
    assert gone, state


def test_a_temporary_file_of_a_killed_write_goes_with_the_teardown(host):
    built(play(host, SEEDS))
    # What a run killed between mkstemp and rename in write_atomically leaves: half a
    # declaration under the hidden name it was written to.
    leftover = os.path.join(host.restore_dir, '.lab.json.k1ll3d.tmp')
    with open(leftover, 'w', encoding='utf-8') as handle:
        handle.write(read(host.declaration())[:100])
    os.chmod(leftover, 0o600)
    assert TEMPORARY.match(os.path.basename(leftover))
    unchanged(play(host, SEEDS))
    down = play(host, SEEDS, '-e', 'lab_state=absent')
    assert down.rc == 0 and down.failed == 0, shown(down)
    assert restore_files(host) == NONE
    assert not os.path.exists(host.state_dir), os.listdir(host.restore_dir)


def test_restore_at_boot_false_removes_the_unit_and_true_stores_it_again(host):
    built(play(host, SEEDS))
    files, text = host.files(), read(host.declaration())
    off = built(play(host, SEEDS, '-e', 'lab_restore_at_boot=false'))
    assert off.changed == 1 and NOT_WANTED in off.output, shown(off)
    assert restore_files(host) == NONE and not os.path.exists(host.state_dir)
    assert host.daemon_reloads() == 2
    port_answers(host.world)  # the lab itself stays
    unchanged(play(host, SEEDS, '-e', 'lab_restore_at_boot=false'))

    on = built(play(host, SEEDS))
    assert on.changed == 1 and AT_BOOT % 'lab' in on.output, shown(on)
    assert restore_files(host) == ALL and host.daemon_reloads() == 3
    now = host.files()
    assert sorted(now) == sorted(files)
    for name in ('var-lib/nslab/restore/lab.json', 'var-lib/nslab/restore/lab.pyz', 'systemd/nslab-restore@.service'):
        assert now[name][:4] == files[name][:4], name
    assert read(host.declaration()) == text


def test_two_labs_share_the_template_and_each_teardown_takes_its_own(host):
    built(play(host, SEEDS))
    built(play(host, TWO))
    assert restore_files(host, 'lab') == ALL and restore_files(host, 'two') == ALL
    assert host.daemon_reloads() == 1  # the template was written once
    assert os.readlink(host.link('two')) == TEMPLATE_IN_WORLD

    # Both come back at boot, each from its own declaration.
    world = host.reboot()
    restored(host, 'lab')
    restored(host, 'two')
    port_answers(world)
    port_answers(world, 8002, '10.9.0.1')

    files = host.files()
    down = play(host, TWO, '-e', 'lab_state=absent')
    assert down.rc == 0 and down.failed == 0 and down.changed > 0, shown(down)
    assert restore_files(host, 'two') == dict(NONE, template=True)
    # The template and the other lab's files are untouched (same inodes and times).
    assert files_but_directories(host.files()) == {
        name: entry for name, entry in files_but_directories(files).items() if 'two' not in name}
    assert host.daemon_reloads() == 1
    port_answers(world)

    down = play(host, SEEDS, '-e', 'lab_state=absent')
    assert down.rc == 0 and down.failed == 0, shown(down)
    assert restore_files(host, 'lab') == NONE and not os.path.exists(host.state_dir)
    assert host.daemon_reloads() == 2


def test_a_template_someone_else_wrote_is_refused_and_left_alone(tmp_path):
    disk = DiskHost(tmp_path / 'disk')
    foreign = '[Unit]\nDescription=not ours\n\n[Service]\nExecStart=/bin/true %i\n'
    with open(disk.template, 'w', encoding='utf-8') as handle:
        handle.write(foreign)
    with disk as host_:
        refused = assert_refused(play(host_, SEEDS), TEMPLATE_IN_WORLD)
        assert 'not written by nslab.net' in refused
        gone, state = lab_gone(host_.world)
        assert gone, state
        assert read(host_.template) == foreign and not os.path.exists(host_.state_dir)

        # Positive control: without the restore at boot the same lab builds, beside the file.
        without = built(play(host_, SEEDS, '-e', 'lab_restore_at_boot=false'))
        assert NOT_WANTED in without.output, shown(without)
        port_answers(host_.world)
        assert read(host_.template) == foreign
        assert restore_files(host_) == dict(NONE, template=True) and not os.path.exists(host_.state_dir)
        assert host_.systemctl_calls() == []


def test_where_systemd_is_not_init_nothing_is_stored(tmp_path):
    with DiskHost(tmp_path / 'disk', systemd=False) as plain:
        first = built(play(plain, SEEDS))
        assert NOT_SYSTEMD in first.output, shown(first)
        port_answers(plain.world)  # the run built the lab
        assert plain.files() == {} and plain.systemctl_calls() == []
        down = play(plain, SEEDS, '-e', 'lab_state=absent')
        assert down.rc == 0 and down.failed == 0, shown(down)
        assert plain.files() == {} and plain.systemctl_calls() == []


# -- runs killed ----------------------------------------------------------------------------------

#: Runs killed by the sweep.
KILLS = 4


def start_play(disk_host, variables, tmp):
    """A play like :func:`play`, started in a session of its own (for :func:`kill_run`), its
    Ansible temporary files in ``tmp``."""
    argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), PLAYBOOK, '-e', '@' + variables_file(tmp, variables)]
    env = dict(disk_host.env(), TMPDIR=tmp, ANSIBLE_LOCAL_TEMP=os.path.join(tmp, 'local'),
               ANSIBLE_REMOTE_TMP=os.path.join(tmp, 'remote'))
    return disk_host.world.popen(argv, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def record_path(disk_host):
    """The lab's record on the world's host (its /run is its own), seen from here."""
    return '/proc/%d/root/run/nslab/labs/lab.json' % disk_host.world.init_pid


def when_begun(proc, disk_host, before):
    """Wait until the module of the play ``proc`` wrote the lab's record (its first write,
    before it changes the host); the time then, or None when the play ended first."""
    while proc.poll() is None:
        if mtime(record_path(disk_host)) != before:
            return time.monotonic()
        time.sleep(0.002)
    return None


def timed_edit(disk_host, variables):
    """Seconds from the module's first write (the lab's record) until the declaration changed."""
    declaration = mtime(disk_host.declaration())
    with tempfile.TemporaryDirectory(prefix='nslab-restore-') as tmp:
        proc = start_play(disk_host, variables, tmp)
        begun = when_begun(proc, disk_host, mtime(record_path(disk_host)))
        assert begun is not None, 'the play ended before its module wrote the record'
        stored = None
        while proc.poll() is None and stored is None:
            if mtime(disk_host.declaration()) != declaration:
                stored = time.monotonic() - begun
            time.sleep(0.002)
        assert proc.wait(timeout=120) == 0
    assert stored is not None or mtime(disk_host.declaration()) != declaration
    return stored if stored is not None else time.monotonic() - begun


def test_a_run_killed_at_any_moment_leaves_a_whole_declaration(host):
    """Edits to and fro, each killed at a random moment of the module's work, counted from its
    first write (the restore step comes last): the declaration is the previous one or the new
    one, whole, beside the same code; the next run stores the new one."""
    built(play(host, SEEDS))
    declarations = {'seeds': read(host.declaration(), 'rb')}
    code, template = read(host.code(), 'rb'), read(host.template, 'rb')
    span = timed_edit(host, EDITED)
    declarations['edited'] = read(host.declaration(), 'rb')
    built(play(host, SEEDS))
    seed = os.environ.get('NSLAB_KILL_SEED') or str(random.randrange(1 << 30))
    rng = random.Random(seed)
    # Spread over the module's work, and more of them where the declaration is written.
    offsets = [rng.uniform(0, span) for unused in range(KILLS // 2)]
    offsets += [rng.uniform(span * 0.8, span * 1.1) for unused in range(KILLS - len(offsets))]
    outcomes = []
    current = 'seeds'
    for offset in offsets:
        target = 'edited' if current == 'seeds' else 'seeds'
        with tempfile.TemporaryDirectory(prefix='nslab-restore-') as tmp:
            proc = start_play(host, EDITED if target == 'edited' else SEEDS, tmp)
            begun = when_begun(proc, host, mtime(record_path(host)))
            if begun is not None:
                time.sleep(max(0.0, begun + offset - time.monotonic()))
            killed = 0 if proc.poll() is not None else kill_run(proc)
            if proc.poll() is None:
                proc.wait(timeout=30)
        stored = read(host.declaration(), 'rb')
        outcome = [name for name, text in declarations.items() if text == stored]
        outcomes.append((round(offset, 3), killed, target, outcome, len(hidden_files(host))))
        context = 'NSLAB_KILL_SEED=%s span %.3f s: %s' % (seed, span, outcomes)
        assert outcome in (['seeds'], ['edited']), context
        assert outcome[0] in (current, target), context
        assert read(host.code(), 'rb') == code and read(host.template, 'rb') == template, context
        assert os.readlink(host.link()) == TEMPLATE_IN_WORLD, context
        # The unit runs these two names only: whatever a killed write left is not among them.
        runs = [os.path.join(RESTORE_DIR, 'lab.pyz'), os.path.join(RESTORE_DIR, 'lab.json')]
        assert host.exec_start_argv('lab')[1:] == runs
        finished = play(host, EDITED if target == 'edited' else SEEDS)
        assert finished.rc == 0 and finished.failed == 0, '%s\n%s' % (context, shown(finished))
        assert read(host.declaration(), 'rb') == declarations[target], context
        current = target
    print('kills (offset after the module began, processes killed, target, declaration left, hidden files), '
          + context)
    # A write killed between its temporary file and the rename may leave the temporary file
    # (the teardown removes it, see the test above); it is never a name the unit runs.
    assert all(TEMPORARY.match(os.path.basename(path)) for path in hidden_files(host)), context

    # And the last declaration comes back at boot.
    before = lab_state(host.world)
    world = host.reboot()
    restored(host)
    state = lab_state(world)
    assert state == before, diff(before, state, 'before the reboot', 'restored')
    assert instance('lab') in os.listdir(os.path.dirname(host.link()))
