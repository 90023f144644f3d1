# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running the collection's modules through real ``ansible-playbook`` inside a sandbox world.

A list of tasks becomes a playbook whose every task registers its result; a last task writes
them all as JSON, so a test can assert each task's ``changed``, ``diff`` and return values.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(REPO, '.venv')

#: The target interpreters the modules are proven on: pyroute2 from PyPI and Debian 12's.
TARGET_PYTHONS = {
    'pyroute2-0.9': os.path.join(VENV, 'bin', 'python'),
    'pyroute2-0.7': os.path.join(VENV, 'targets', 'pyroute2-0.7', 'bin', 'python'),
}


def ansible_env():
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': os.path.join(VENV, 'collections'),
        'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'PATH': os.path.join(VENV, 'bin') + os.pathsep + env.get('PATH', ''),
    })
    return env


def run_tasks(world, tasks, python=None, check=False, diff=True):
    """Run ``tasks`` (dicts, as in a playbook) on the world's host; return their results.

    A task that may fail must say ``ignore_errors: true``; its result then has ``failed``.
    """
    python = python or TARGET_PYTHONS['pyroute2-0.9']
    with tempfile.TemporaryDirectory(prefix='nslab-play-') as tmp:
        out = os.path.join(tmp, 'results.json')
        registered = []
        play_tasks = []
        for index, task in enumerate(tasks):
            name = 'r%d' % index
            play_tasks.append(dict(task, register=name))
            registered.append(name)
        collect = '{{ [%s] | to_json }}' % ', '.join(registered)
        play_tasks.append({
            'name': 'Write the results',
            'ansible.builtin.copy': {'content': collect, 'dest': out, 'mode': '0600'},
            'check_mode': False, 'diff': False,
        })
        playbook = [{
            'hosts': 'localhost', 'gather_facts': False,
            'vars': {'ansible_python_interpreter': python},
            'tasks': play_tasks,
        }]
        path = os.path.join(tmp, 'play.yml')
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(playbook, handle, sort_keys=False)
        argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', path]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        proc = world.run(argv, check=False, env=ansible_env(), timeout=300)
        if not os.path.exists(out):
            sys.stderr.write(proc.stdout + proc.stderr)
            raise AssertionError('ansible-playbook failed (rc %d):\n%s\n%s'
                                 % (proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
        with open(out, encoding='utf-8') as handle:
            return json.load(handle)
