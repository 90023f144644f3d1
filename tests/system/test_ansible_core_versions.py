# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's system path on the oldest ansible-core the collection supports.

meta/runtime.yml's ``requires_ansible`` names the oldest ansible-core tested; scripts/bootstrap.sh
builds a controller venv with it (.venv/cores/ansible-core-2.15, requirements/oldest-core.txt),
and this test runs ``ansible-playbook playbooks/lab.yml`` from that venv, as a user whose
distribution ships an older ansible-core would. The newest ansible-core (.venv,
requirements/dev.txt) is the one every other system test runs, so both ends of the supported
range go through the role's whole path: build, re-run, teardown.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_runs import REPO, VENV, ansible_env
from firewall_lab import ECHO_HTTP, http_get

pytestmark = pytest.mark.system

OLDEST = '2.15'
OLDEST_VENV = os.path.join(VENV, 'cores', 'ansible-core-' + OLDEST)
PLAYBOOK = os.path.join(REPO, 'playbooks', 'lab.yml')
RECAP = re.compile(r'^localhost\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
# The seeds' lab: ns1 publishes 8000 with a server that answers with the client's address.
SEEDS = [
    '-e', 'lab_gateway=10.0.0.254', '-e', 'lab_install_packages=false',
    '-e', 'lab_diagram_path=/run/lab-diagram.md',  # the world's private /run
    '-e', yaml.safe_dump({'lab_namespaces': [
        dict(name='ns1', address='10.0.0.1', publish=['8000:8000'],
             command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
        dict(name='ns2', address='10.0.0.2')]}, default_flow_style=True).strip(),
]


def oldest_play(world, *args):
    """``ansible-playbook playbooks/lab.yml`` of the oldest core; its recap (changed) and output."""
    env = dict(ansible_env(), PATH=os.path.join(OLDEST_VENV, 'bin') + os.pathsep + os.environ.get('PATH', ''))
    argv = [os.path.join(OLDEST_VENV, 'bin', 'ansible-playbook'), PLAYBOOK] + SEEDS + list(args)
    proc = world.run(argv, check=False, env=env, timeout=300)
    output = proc.stdout + proc.stderr
    recap = RECAP.findall(proc.stdout)
    assert proc.returncode == 0 and recap and recap[-1][3] == '0', output[-6000:]
    # Nothing to warn about: not the "does not support Ansible version" of a requires_ansible
    # newer than the core, not a deprecation of what the role or the modules use.
    assert not re.findall(r'^\[(?:DEPRECATION )?WARNING\].*', output, re.M), output[-6000:]
    return int(recap[-1][1]), output


def test_oldest_core_builds_reruns_and_tears_down_the_seeds_lab(world):
    assert os.path.isfile(os.path.join(OLDEST_VENV, 'bin', 'ansible-playbook')), 'run scripts/bootstrap.sh'
    with open(os.path.join(REPO, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        assert yaml.safe_load(handle)['requires_ansible'] == '>=%s.0' % OLDEST
    version = world.run([os.path.join(OLDEST_VENV, 'bin', 'ansible-playbook'), '--version']).stdout
    assert 'core %s.' % OLDEST in version.splitlines()[0], version

    changed, output = oldest_play(world)
    assert changed > 0 and 'http://127.0.0.1:8000/' in output
    assert http_get(world, 'host', 'http://127.0.0.1:8000/') == '10.0.0.254'

    changed, output = oldest_play(world)
    assert changed == 0, output[-6000:]

    changed, output = oldest_play(world, '-e', 'lab_state=absent')
    assert changed > 0
    assert http_get(world, 'host', 'http://127.0.0.1:8000/', timeout=2) is None  # answered above
    assert world.run(['ip', 'netns', 'list']).stdout.split() == []
