# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules on every target Python the collection supports, 3.8 to 3.13, respawn included.

One sandbox world, one inventory: a host per target interpreter (all of them this world's
host, reached with the local connection), each with its ``ansible_python_interpreter``
and a lab of its own (its lab name, bridge, subnet, namespaces and published port), so
that one ``ansible-playbook`` run builds them all at once and runs each again, which must
change nothing, and a second one tears them all down.

The interpreters: ``.venv/targets/python-3.X`` (pyroute2 and python-iptables installed, from
``requirements/targets/python-3.X.txt``), half of them writing the legacy iptables flavour
(in-process, with python-iptables) and half the nft one, in the same world; and two
virtualenvs made here that lack packages, where the module must run again under the system
Python, which has Debian's (the respawn, docs/architecture.md "Why respawn"): a 3.8 without
pyroute2, a 3.13 without python-iptables on the legacy flavour.

Which interpreter ran the module, and that it respawned, is told by the interpreters
themselves, with nothing added to the modules: the lab tasks put a ``sitecustomize`` on
their ``PYTHONPATH`` that every Python process of the task imports at start (the respawned
one inherits the environment) and that, at exit, appends a line to the task's log for its
host: its pid and parent's, executable and version, whether it loaded the lab's code, and
where its pyroute2 and python-iptables came from. A respawn is a process of the system
Python, child of the task's interpreter's, that ran the lab's code too.

Where neither the interpreter nor the system Python has pyroute2, the failure names the
interpreter: tests/system/test_lab_role.py proves that, on this machine's Python.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from ansible_runs import VENV, ansible_env
from firewall_lab import ECHO_HTTP, http_get, wait_until
from lab_state import lab_state
from nslab_sandbox import HOST_ADDRESS, INTERNET_ADDRESS, OTHER_ADDRESS, World
from test_lab_role import snapshot, without_empty_tables

pytestmark = pytest.mark.system

VERSIONS = ('3.8', '3.9', '3.10', '3.11', '3.12', '3.13')
#: (Python, the packages its interpreter lacks, iptables flavour) per host. The equipped
#: interpreters alternate the flavours: each at one end of the range, the legacy one (written
#: in-process by python-iptables) on pyroute2 0.7 (3.8) as well as 0.9. Each end of the range
#: respawns too, for one package each: 3.8 for pyroute2, 3.13 for python-iptables.
TARGETS = (('3.8', (), 'legacy'), ('3.9', (), 'nft'), ('3.10', (), 'legacy'), ('3.11', (), 'nft'),
           ('3.12', (), 'legacy'), ('3.13', (), 'nft'),
           ('3.8', ('pyroute2', 'python-iptables'), 'nft'), ('3.13', ('python-iptables',), 'legacy'))
#: The release of pyroute2 each equipped interpreter has (requirements/targets/python-3.X.txt).
PYROUTE2 = {version: '0.7.2' if version == '3.8' else '0.9.7' for version in VERSIONS}
#: The system Python, which the respawns use: Debian's python3-pyroute2 and python3-iptables.
SYSTEM_PYTHON = '/usr/bin/python3'
#: The Python packages the modules use on a target, by their import name.
PACKAGES = {'pyroute2': 'pyroute2', 'python-iptables': 'iptc'}
#: Prints which of PACKAGES the interpreter can import (found, not imported: the module looks
#: for pyroute2 in the same way).
FIND_PACKAGES = ('import importlib.util, json; print(json.dumps({package: importlib.util.find_spec(module) is not None'
                 ' for package, module in %r.items()}))' % PACKAGES)
DIST_PACKAGES = '/usr/lib/python3/dist-packages'
NETNS_ETC = '/etc/netns'
LAB_RUNNER = 'ansible_collections.nslab.net.plugins.module_utils._lab.runner'
SERVICE_PORT = 8000
#: The arguments a lab task passes, from its host's ``lab_args``.
LAB_KEYS = ('name', 'state', 'bridge', 'subnet', 'gateway', 'backend', 'namespaces')

# Appends one JSON line per Python process to $NSLAB_TARGET_LOG when it exits. (It shadows
# the distribution's sitecustomize, which on Debian only installs apport's hook.)
SITECUSTOMIZE = '''
import atexit, json, os, sys


def _record():
    def origin(name):
        module = sys.modules.get(name)
        return getattr(module, '__file__', None) if module else None
    pyroute2 = sys.modules.get('pyroute2')
    line = dict(pid=os.getpid(), ppid=os.getppid(), executable=sys.executable,
                version='%d.%d' % sys.version_info[:2], argv=sys.argv[:1],
                lab=__LAB_RUNNER__ in sys.modules, pyroute2=origin('pyroute2'), iptc=origin('iptc'),
                pyroute2_version=getattr(pyroute2, '__version__', None))
    fd = os.open(os.environ['NSLAB_TARGET_LOG'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(line) + '\\n').encode())
    finally:
        os.close(fd)


if os.environ.get('NSLAB_TARGET_LOG'):
    atexit.register(_record)
'''.replace('__LAB_RUNNER__', repr(LAB_RUNNER))


class Target:
    """One inventory host: an interpreter and the lab it builds (number ``n``: its subnet,
    its published port)."""

    def __init__(self, n, version, lacks, flavour, interpreter):
        self.n, self.version, self.lacks, self.flavour, self.interpreter = n, version, lacks, flavour, interpreter
        self.host = 'py%s%s' % (version.replace('.', ''), ''.join('-no-' + package for package in lacks))
        needs = ('pyroute2', 'python-iptables') if flavour == 'legacy' else ('pyroute2',)
        #: The package for which the module runs again under the system Python, if any.
        self.respawns_for = next((package for package in needs if package in lacks), None)
        tag = 't%d' % n
        self.lab = 'lab-' + tag
        self.bridge = 'br-' + tag
        self.subnet = '10.200.%d.0/24' % n
        self.gateway = '10.200.%d.254' % n
        self.web, self.db = tag + '-web', tag + '-db'
        self.web_address, self.db_address = '10.200.%d.1' % n, '10.200.%d.2' % n
        self.port = 8100 + n

    def lab_args(self, state):
        if state == 'absent':
            return dict(name=self.lab, state='absent', backend=self.flavour)
        return dict(name=self.lab, bridge=self.bridge, subnet=self.subnet, gateway=self.gateway,
                    backend=self.flavour, namespaces=[
                        dict(name=self.web, address=self.web_address, publish=['%d:%d' % (self.port, SERVICE_PORT)],
                             command='exec python3 %s --bind 0.0.0.0 --port %d' % (ECHO_HTTP, SERVICE_PORT)),
                        dict(name=self.db, address=self.db_address)])

    def __repr__(self):
        return self.host


def equipped_venv(version):
    """The venv of scripts/bootstrap.sh for Python ``version``."""
    return os.path.join(VENV, 'targets', 'python-' + version)


def site_packages(prefix, version):
    return os.path.join(prefix, 'lib', 'python' + version, 'site-packages')


def make_targets(tmp_path):
    """The hosts of :data:`TARGETS`. An interpreter that lacks packages is a virtualenv made
    here by the equipped one of its version (a venv made by a venv's Python has none of its
    packages), given those of the equipped one's packages it does not lack."""
    targets = []
    for version, lacks, flavour in TARGETS:
        interpreter = os.path.join(equipped_venv(version), 'bin', 'python')
        if not os.path.exists(interpreter):
            pytest.fail('%s is missing: scripts/bootstrap.sh makes it from requirements/targets/python-%s.txt'
                        % (interpreter, version), pytrace=False)
        if lacks:
            venv = tmp_path / ('python-%s-%d' % (version, len(targets)))
            subprocess.run([interpreter, '-m', 'venv', '--without-pip', str(venv)], check=True)
            if 'pyroute2' not in lacks:
                os.symlink(os.path.join(site_packages(equipped_venv(version), version), 'pyroute2'),
                           os.path.join(site_packages(str(venv), version), 'pyroute2'))
            interpreter = str(venv / 'bin' / 'python')
        targets.append(Target(len(targets) + 1, version, lacks, flavour, interpreter))
    return targets


def run_play(world, tmp_path, targets, state):
    """One ansible-playbook run over all targets: the lab task (``state``), twice when
    present; returns {host: [(result, processes)]}, a pair per run of the task: its result
    (gathered on the controller) and what :func:`read_log` found of the processes it ran."""
    site = tmp_path / 'site'
    site.mkdir(exist_ok=True)
    (site / 'sitecustomize.py').write_text(SITECUSTOMIZE, encoding='utf-8')
    inventory = {'all': {'hosts': {t.host: {
        'ansible_connection': 'local', 'ansible_python_interpreter': t.interpreter,
        'lab_args': t.lab_args(state)} for t in targets}}}
    logs = tmp_path / ('logs-' + state)
    logs.mkdir()
    lab_task = {'nslab.net.lab_network': {key: '{{ lab_args.%s | default(omit) }}' % key for key in LAB_KEYS},
                'ignore_errors': True}
    runs = 2 if state == 'present' else 1
    tasks = [dict(lab_task, name='Lab %s, run %d' % (state, run), register='run%d' % run,
                  environment={'PYTHONPATH': str(site),
                               'NSLAB_TARGET_LOG': '%s/{{ inventory_hostname }}.run%d.jsonl' % (logs, run)})
             for run in range(runs)]
    out = tmp_path / ('results-%s.json' % state)
    per_host = ', '.join("'%s': [%s]" % (t.host, ', '.join("hostvars['%s'].run%d" % (t.host, run)
                                                           for run in range(runs)))
                         for t in targets)
    tasks.append({'name': 'Write the results', 'run_once': True, 'delegate_to': 'localhost',
                  'ansible.builtin.copy': {'content': '{{ {%s} | to_json }}' % per_host, 'dest': str(out),
                                           'mode': '0600'}})
    play = [{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}]
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inventory), encoding='utf-8')
    (tmp_path / 'play.yml').write_text(yaml.safe_dump(play, sort_keys=False), encoding='utf-8')
    argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), '-i', str(tmp_path / 'inventory.yml'),
            '-f', str(len(targets)), str(tmp_path / 'play.yml')]
    proc = world.run(argv, check=False, env=ansible_env(), timeout=300)
    assert out.exists(), 'ansible-playbook failed (rc %d):\n%s\n%s' % (
        proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
    # Nothing to warn about on any of the interpreters (a deprecated Python, say).
    warnings = re.findall(r'^\[(?:DEPRECATION )?WARNING\].*', proc.stdout + proc.stderr, re.M)
    assert not warnings, warnings
    results = json.loads(out.read_text(encoding='utf-8'))
    return {host: [(result, read_log(logs / ('%s.run%d.jsonl' % (host, run)))) for run, result in enumerate(runs)]
            for host, runs in results.items()}


def read_log(path):
    """The processes that ran the lab's code, in the order they ended, from a task's log."""
    if not path.exists():
        return []
    with path.open(encoding='utf-8') as handle:
        return [line for line in map(json.loads, handle) if line['lab']]


def assert_ran_on(target, log, built):
    """The module ran on the target's interpreter, or respawned under the system one.

    pyroute2 and python-iptables come from that interpreter's packages, or the system's after
    a respawn. python-iptables is imported only for the legacy flavour, pyroute2 on the first
    write through netlink: ``built``, the run built the lab and must have; a run that changed
    nothing, or tore the lab down, may not.
    """
    if target.respawns_for is None:
        assert len(log) == 1, (target, log)
        (run,) = log
        packages = site_packages(equipped_venv(target.version), target.version) + '/'
        pyroute2_version = PYROUTE2[target.version]
    else:
        # The respawned child ends first, its parent (which waited for it) after: both ran
        # the lab's code, the parent up to the check that found the package missing.
        assert len(log) == 2, (target, log)
        run, parent = log
        assert parent['executable'] == target.interpreter and parent['version'] == target.version, (target, parent)
        assert parent['pyroute2'] is None and parent['iptc'] is None, (target, parent)
        assert run['ppid'] == parent['pid'] and run['executable'] == SYSTEM_PYTHON, (target, run, parent)
        packages = DIST_PACKAGES + '/'
        pyroute2_version = None  # Debian's says "unknown"
    if target.respawns_for is None:
        assert run['executable'] == target.interpreter and run['version'] == target.version, (target, run)
    if built or run['pyroute2']:
        assert (run['pyroute2'] or '').startswith(packages), (target, run)
        assert pyroute2_version in (None, run['pyroute2_version']), (target, run)
    assert (run['iptc'] or '').startswith(packages) if target.flavour == 'legacy' else run['iptc'] is None, \
        (target, run)


def namespace_addresses(world, netns):
    data = json.loads(world.run(['ip', '-j', '-n', netns, '-4', 'addr', 'show', 'dev', 'eth0']).stdout)
    return sorted('%s/%s' % (a['local'], a['prefixlen']) for link in data for a in link['addr_info'])


def nat_rules(world, flavour):
    """The rules of the nat table of ``iptables-<flavour>-save``."""
    text = world.run(['iptables-%s-save' % flavour, '-t', 'nat']).stdout
    return [line for line in text.splitlines() if line.startswith('-A ')]


def has_rule(rules, fragments):
    return any(all(fragment in rule for fragment in fragments) for rule in rules)


def test_the_modules_run_on_every_target_python(tmp_path):
    targets = make_targets(tmp_path)
    with World() as world:
        # Positive controls of the respawns: each interpreter lacks what it should, and only
        # that; the system Python has both packages.
        for interpreter, lacks in [(t.interpreter, t.lacks) for t in targets] + [(SYSTEM_PYTHON, ())]:
            found = json.loads(world.run([interpreter, '-c', FIND_PACKAGES]).stdout)
            assert found == {package: package not in lacks for package in PACKAGES}, (interpreter, found)
        # /etc/netns exists, as on a host where `ip netns add` ever ran. Where it does not, the
        # labs built at once all make it, and a lab that read /etc/netns after another made it
        # but before that one's files remembered so writes files that do not remember it: its
        # next run rewrites them (changed) to say it made /etc/netns too.
        world.run(['mkdir', '-p', NETNS_ETC])
        pristine = without_empty_tables(snapshot(world))

        results = run_play(world, tmp_path, targets, 'present')
        for target in targets:
            (build, build_log), (again, again_log) = results[target.host]
            assert not build.get('failed') and build['changed'], (target, build.get('msg'), build.get('problems'))
            assert build['backend'] == target.flavour, (target, build['backend'])
            assert not again.get('failed') and not again['changed'], (target, again.get('msg'), again.get('commands'))
            assert_ran_on(target, build_log, built=True)
            assert_ran_on(target, again_log, built=False)

        # What the kernel holds: each lab's bridge, namespaces, addresses and rules.
        state = lab_state(world)
        host_links = {link['name']: link for link in state['host_links']}
        nat = {flavour: nat_rules(world, flavour) for flavour in ('nft', 'legacy')}
        for target in targets:
            bridge = host_links[target.bridge]
            assert bridge['kind'] == 'bridge' and bridge['addresses'] == [target.gateway + '/24'], (target, bridge)
            assert namespace_addresses(world, target.web) == [target.web_address + '/24'], target
            assert namespace_addresses(world, target.db) == [target.db_address + '/24'], target
            other = 'nft' if target.flavour == 'legacy' else 'legacy'
            dnat = ('--dport %d ' % target.port, '-j DNAT --to-destination %s:%d' % (target.web_address, SERVICE_PORT))
            masquerade = ('-s %s ' % target.subnet, '-j MASQUERADE')
            for rule in (dnat, masquerade):
                assert has_rule(nat[target.flavour], rule), (target, rule, nat[target.flavour])
                assert not has_rule(nat[other], rule), (target, rule, other)

        # Traffic: each published port answers from the other machine (which the service
        # sees as itself: DNAT keeps the source), and each lab reaches the internet
        # masqueraded behind the host's uplink address.
        for target in targets:
            url = 'http://%s:%d/' % (HOST_ADDRESS, target.port)
            wait_until(lambda url=url: http_get(world, 'other', url, timeout=1) is not None, url)
            assert http_get(world, 'other', url) == OTHER_ADDRESS, target
            answer = world.run(['ip', 'netns', 'exec', target.db, 'curl', '-sS', '--fail', '-m', '3',
                                'http://%s/' % INTERNET_ADDRESS], check=False)
            assert answer.stdout.strip() == HOST_ADDRESS, (target, answer.stderr)

        results = run_play(world, tmp_path, targets, 'absent')
        for target in targets:
            ((down, down_log),) = results[target.host]
            assert not down.get('failed') and down['changed'], (target, down.get('msg'))
            assert_ran_on(target, down_log, built=False)
        # The ports that answered above answer no more, and the host is as before the labs.
        for target in targets:
            assert http_get(world, 'other', 'http://%s:%d/' % (HOST_ADDRESS, target.port), timeout=1) is None, target
        assert without_empty_tables(snapshot(world)) == pristine
