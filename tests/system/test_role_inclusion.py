# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role the ways users put it in their own playbooks: roles:, include_role, import_role.

The README shows all three; each builds or keeps the same lab, so one world goes through
them in turn: include_role builds it, import_role re-runs it (changed=0), roles: with
lab_state=absent tears it down.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest
import yaml

from ansible_runs import VENV, ansible_env
from firewall_lab import ECHO_HTTP, http_get

pytestmark = pytest.mark.system

RECAP = re.compile(r'^localhost\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
LAB = dict(lab_gateway='10.0.0.254', lab_install_packages=False, lab_diagram=False, lab_namespaces=[
    dict(name='ns1', address='10.0.0.1', publish=['8000:8000'],
         command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
    dict(name='ns2', address='10.0.0.2')])


def own_playbook(world, tasks=None, roles=None, variables=None):
    """A user's playbook on the world's host; returns (changed, output)."""
    play = {'name': 'My own play', 'hosts': 'localhost', 'gather_facts': False, 'vars': dict(LAB, **(variables or {}))}
    if roles is not None:
        play['roles'] = roles
    if tasks is not None:
        play['tasks'] = tasks
    with tempfile.TemporaryDirectory(prefix='nslab-own-') as tmp:
        path = os.path.join(tmp, 'site.yml')
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump([play], handle, sort_keys=False)
        proc = world.run([os.path.join(VENV, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                          '-e', 'ansible_python_interpreter=/usr/bin/python3', path],
                         check=False, env=ansible_env(), timeout=300)
    output = proc.stdout + proc.stderr
    recap = RECAP.findall(proc.stdout)
    assert proc.returncode == 0 and recap and recap[-1][3] == '0', output[-4000:]
    return int(recap[-1][1]), output


def test_include_role_import_role_and_roles_build_keep_and_remove_the_same_lab(world):
    before = [
        {'name': 'Something of mine first', 'ansible.builtin.command': 'true', 'changed_when': False},
    ]
    changed, output = own_playbook(world, tasks=before + [
        {'name': 'The lab', 'ansible.builtin.include_role': {'name': 'nslab.net.lab'}}])
    assert changed > 0, output
    assert http_get(world, 'host', 'http://127.0.0.1:8000/') is not None
    assert world.run(['ip', 'netns', 'exec', 'ns2', 'ping', '-c1', '-W2', '10.0.0.1'], check=False).returncode == 0

    changed, output = own_playbook(world, tasks=before + [
        {'name': 'The lab', 'ansible.builtin.import_role': {'name': 'nslab.net.lab'}}])
    assert changed == 0, output

    changed, output = own_playbook(world, roles=[{'role': 'nslab.net.lab'}], variables={'lab_state': 'absent'})
    assert changed > 0, output
    assert http_get(world, 'host', 'http://127.0.0.1:8000/', timeout=1) is None
    assert world.run(['ip', 'netns', 'list']).stdout.strip() == ''
