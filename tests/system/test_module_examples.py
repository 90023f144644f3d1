# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's EXAMPLES, run as written on a stock Debian 12 host: the host of a fresh world.

The examples of one module are a sequence (a later one may build on an earlier one, the last
one tears down), so each module's examples run in the order written, as one playbook, with
the inventory of a checkout (inventories/local: the system's python3, with the distribution's
pyroute2 and python-iptables that scripts/bootstrap.sh installs). They are read from the
module file's source, never by importing the module.

After the last example the world's host must hold what it held before the first: links,
addresses, routes, the rules of both iptables flavours, kernel settings, namespaces, the
processes in them and the files under the world's private /run and /tmp. The examples before
a teardown run as a playbook of their own, so the state between the two is seen: it must
differ from the state before (the positive control that the comparison sees what examples
make), and the servers the examples start must answer then.
"""

from __future__ import annotations

import ast
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from ansible_runs import REPO, VENV, ansible_env
from nslab_sandbox import HOST_ADDRESS, UPLINK, host_snapshot

pytestmark = pytest.mark.system

MODULES_DIR = Path(REPO) / 'plugins' / 'modules'
MODULES = sorted(path.stem for path in MODULES_DIR.glob('*.py') if not path.stem.startswith('_'))
PLAYS = '/run/nslab-examples'  # in the world's private /run: gone with the world
CHECKOUT_KEPT = '/run/nslab-checkout'  # the checkout, while /tmp is covered (see private_tmp)

# What the examples of a module act on without making it: the seeds' lab, as the netns,
# bridge and veth examples build it. A reader runs those first; here `ip` makes the same.
_NAMESPACES = ['ip netns add ns1', 'ip netns add ns2', 'ip -n ns1 link set lo up', 'ip -n ns2 link set lo up']
_BRIDGE = ['ip link add br0 type bridge', 'ip addr add 10.0.0.254/24 dev br0', 'ip link set br0 up']
_NS1_ON_BR0 = ['ip link add veth-ns1 type veth peer name eth0 netns ns1', 'ip link set veth-ns1 master br0 up',
               'ip -n ns1 addr add 10.0.0.1/24 dev eth0', 'ip -n ns1 link set eth0 up']
PREREQUISITES = {
    'veth': _NAMESPACES + _BRIDGE,
    'port_publish': _BRIDGE,
    'netns_service': _NAMESPACES + _BRIDGE + _NS1_ON_BR0,  # web binds 10.0.0.1
}

# Files that stay after a module's examples, on purpose.
# - /run/xtables.lock is the lock file that `iptables -w` and the firewall modules flock;
#   iptables creates it and never deletes it (deleting a lock file others may wait on would
#   let two writers in).
# - A stopped service keeps its log and its own working directory (the default chdir) until
#   reboot, as netns_service documents, so that one can still read why it ended.
_XTABLES_LOCK = ('/run/xtables.lock',)
_SERVICES = ('/run/nslab/', '/run/nslab/services/')
LEFT_BEHIND = {
    'nat_masquerade': _XTABLES_LOCK,
    'port_publish': _XTABLES_LOCK,
    'lab_network': _XTABLES_LOCK + _SERVICES + ('/run/nslab/services/ns1.d/', '/run/nslab/services/ns1.log'),
    'netns_service': _SERVICES + ('/run/nslab/services/ns1.log', '/run/nslab/services/web.d/',
                                  '/run/nslab/services/web.log', '/run/nslab/services/ns2.d/',
                                  '/run/nslab/services/ns2.log'),
}

# Who asks which URL, and a piece of the page it must get, while the examples' servers run.
ANSWERS = {
    'netns_service': [('netns:ns1', 'http://127.0.0.1:8000/', 'python3/'),  # /usr/share/doc
                      ('netns:ns1', 'http://10.0.0.1:8080/', 'GPL-3'),  # /usr/share/common-licenses
                      ('netns:ns2', 'http://127.0.0.1:9000/', 'Directory listing for /')],
    # ns1's port 8000 published on the host, asked from another machine.
    'lab_network': [('other', 'http://%s:8000/' % HOST_ADDRESS, 'Directory listing for /')],
}

# What an example prints, where printing is what it is for: the interface of the host's
# default route, from the result the example before it registered.
PRINTS = {'netns_info': '"msg": "%s"' % UPLINK}

# The state of the world's host, read by one python3 process inside the world.
_STATE = '''
import json, os, sys
sys.path[:0] = [%r, %r]
from nslab_sandbox import host_snapshot
import lab_state

def files(top):
    found = []
    for root, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in SKIP]
        found += [os.path.join(root, name) + '/' for name in dirs]
        found += [os.path.join(root, name) for name in names]
    return sorted(found)

def processes():
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open('/proc/%%s/cmdline' %% pid, 'rb') as handle:
                    found.append(handle.read().replace(b'\\0', b' ').decode('utf-8', 'replace').strip())
            except OSError:
                pass
    return sorted(found)

SKIP = {'/run/nslab-world', %r, %r, %r}
state = dict(host_snapshot.snapshot(), lab=lab_state.describe(), files=files('/run') + files('/tmp'),
             processes=processes())
print(json.dumps(state, sort_keys=True))
''' % (str(Path(REPO) / 'tools'), str(Path(REPO) / 'tests' / 'system'), PLAYS, CHECKOUT_KEPT, REPO)

_TASK = re.compile(r'^TASK \[(.*)\] \*+$')
_STATUS = re.compile(r'^(ok|changed|skipping|fatal|failed): \[')
_EMPTY_TABLE = re.compile(r'\*\w+(\n:[A-Z]+ ACCEPT)*\nCOMMIT')
_CARRIER = frozenset(('LOWER_UP', 'NO-CARRIER', 'M-DOWN', 'linkdown'))


def examples_of(module):
    """The tasks of ``module``'s EXAMPLES, read from its source."""
    path = MODULES_DIR / ('%s.py' % module)
    for node in ast.parse(path.read_text(encoding='utf-8'), str(path)).body:
        if isinstance(node, ast.Assign) and any(getattr(target, 'id', None) == 'EXAMPLES' for target in node.targets):
            return yaml.safe_load(ast.literal_eval(node.value))
    raise AssertionError('%s has no EXAMPLES' % path)


def action_of(task):
    """The module a task calls: its one key that is not a task keyword."""
    keys = [key for key in task if key not in ('name', 'register', 'when', 'loop', 'vars')]
    assert len(keys) == 1, task
    return keys[0]


def tears_down(task):
    return (task.get(action_of(task)) or {}).get('state') == 'absent'


def host_state(world):
    """Everything of the world's host that an example could leave behind."""
    state = json.loads(world.run(['python3', '-c', _STATE], timeout=60).stdout)
    for key, text in state.items():
        # iptables cannot delete a table: the built-in ones stay after their last rule goes,
        # with nothing in them. They filter nothing, so they count as absent.
        if key.startswith('firewall:ip') and text:
            state[key] = '\n'.join(table for table in re.split(r'\n(?=\*)', text)
                                   if not _EMPTY_TABLE.fullmatch(table.strip()))
    # A bridge takes its MAC address from its ports, and has carrier only while a port is up
    # (or before it ever had one): plugging ports into the prerequisites' bridge and out
    # again changes those and the "linkdown" flag of its routes, and leaves nothing behind.
    for key in ('link', 'addr', 'route4', 'route6'):
        for entry in state[key]:
            entry.pop('address', None)
            entry.pop('operstate', None)
            entry['flags'] = [flag for flag in entry.get('flags', []) if flag not in _CARRIER]
    return state


def play(world, name, tasks):
    """Run ``tasks`` as one play on the world's host; return ``[(task name, status)]`` and the output."""
    path = '%s/%s.yml' % (PLAYS, name)
    text = yaml.safe_dump([{'name': name, 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}],
                          sort_keys=False)
    world.run(['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat >"$1"', 'sh', path], input=text)
    proc = world.run([str(Path(VENV) / 'bin' / 'ansible-playbook'), path], check=False,
                     env=ansible_env(), timeout=300, cwd='/tmp')
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, '%s failed (rc %d):\n%s' % (name, proc.returncode, output[-8000:])
    assert '[WARNING]' not in output, output
    statuses, task = [], None
    for line in proc.stdout.splitlines():
        if _TASK.match(line):
            task = _TASK.match(line).group(1)
        elif task is not None and _STATUS.match(line):
            statuses.append((task, _STATUS.match(line).group(1)))
            task = None
    return statuses, output


def page(world, node, url, timeout=10.0):
    """The page at ``url`` asked from ``node``, polling while the server starts to listen."""
    deadline = time.monotonic() + timeout
    while True:
        proc = world.run(['curl', '-sf', '--max-time', '2', url], node=node, check=False, timeout=10)
        if proc.returncode == 0 or time.monotonic() >= deadline:
            return proc.stdout
        time.sleep(0.1)


def private_tmp():
    """Shell lines that put an empty tmpfs over the world's /tmp, keeping this checkout where
    it is when it lives under /tmp (a fresh clone often does): the tests and the collection
    run from it."""
    if not (REPO + '/').startswith('/tmp/'):
        return ['mount -t tmpfs -o mode=1777 nslab-tmp /tmp']
    return ['mkdir -p %s' % CHECKOUT_KEPT, 'mount --bind %s %s' % (REPO, CHECKOUT_KEPT),
            'mount -t tmpfs -o mode=1777 nslab-tmp /tmp',
            'mkdir -p %s' % REPO, 'mount --bind %s %s' % (CHECKOUT_KEPT, REPO)]


@pytest.mark.parametrize('module', MODULES)
def test_examples_run_as_written_and_leave_nothing(world, module):
    tasks = examples_of(module)
    assert tasks, 'no examples'
    # A private, empty /tmp: what an example writes there (a diagram) stays in the world.
    world.sh('\n'.join(['set -e'] + private_tmp() + PREREQUISITES.get(module, [])))
    before = host_state(world)

    build, teardown = (tasks[:-1], tasks[-1:]) if tears_down(tasks[-1]) else (tasks, [])
    statuses, output = play(world, module, build)
    assert PRINTS.get(module, '') in output, output
    for node, url, text in ANSWERS.get(module, []):
        assert text in page(world, node, url), '%s from %s' % (url, node)
    if teardown:
        assert host_state(world) != before, 'the examples before the teardown made nothing that is seen'
        more, output = play(world, '%s-teardown' % module, teardown)
        statuses += more
    after = host_state(world)

    # Every example ran, and each that declares a state changed the host (reads do not).
    expected = [(task['name'], 'ok' if action_of(task).endswith(('_info', '.debug')) else 'changed')
                for task in tasks]
    assert statuses == expected, output
    left = dict(after, files=[path for path in after['files'] if path not in LEFT_BEHIND.get(module, ())])
    assert left == before, host_snapshot.diff(before, left)
    assert set(LEFT_BEHIND.get(module, ())) <= set(after['files']), 'LEFT_BEHIND names what is not left'
