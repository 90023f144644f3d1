# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as users get it: built with ansible-galaxy, installed, and working.

The installed copy runs with no trace of the checkout: no ansible.cfg (it points into .venv),
a collections path holding only the installed tarball, and a directory of its own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile

import pytest
import yaml

from ansible_runs import REPO, VENV, ansible_env
from firewall_lab import ECHO_HTTP, http_get

pytestmark = pytest.mark.system

# What only works in a checkout (galaxy.yml's build_ignore), as tarball paths or their prefixes.
DEVELOPMENT_FILES = ('.venv', '.ci/', '.gitignore', '.pytest_cache', 'ansible.cfg', 'pytest.ini', 'requirements/',
                     'tests/', 'bench/', 'molecule/', 'scripts/', 'tools/', 'changelogs/.plugin-cache.yaml')
# What users read or run: the changelog (changelog.yaml feeds the Ansible package's), the docs,
# the playbooks run by FQCN, the inventories, the runtime metadata.
USER_FILES = {'plugins/modules/veth.py', 'plugins/module_utils/_netlink/adapter.py', 'README.md', 'CHANGELOG.md',
              'COPYING', 'changelogs/changelog.yaml', 'changelogs/config.yaml', 'docs/architecture.md',
              'meta/runtime.yml', 'playbooks/lab.yml', 'playbooks/teardown.yml', 'roles/lab/tasks/main.yml',
              'inventories/local/hosts.yml'}
RECAP = re.compile(r'^localhost\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def run_playbook(world, fqcn, env, cwd):
    """``ansible-playbook FQCN`` with the seeds' lab; the number of changed tasks."""
    argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), fqcn, '-i', 'hosts.yml', '-e', '@lab.yml']
    proc = world.run(argv, check=False, env=env, cwd=cwd, timeout=300)
    recap = RECAP.findall(proc.stdout)
    assert proc.returncode == 0 and recap and recap[-1][3] == '0', (proc.stdout + proc.stderr)[-6000:]
    return int(recap[-1][1])


def test_built_tarball_installs_and_its_modules_and_playbooks_work(world, tmp_path):
    galaxy = os.path.join(VENV, 'bin', 'ansible-galaxy')
    subprocess.run([galaxy, 'collection', 'build', REPO, '--output-path', str(tmp_path)],
                   check=True, capture_output=True, text=True, timeout=120)
    (tarball,) = tmp_path.glob('nslab-net-*.tar.gz')
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert USER_FILES <= names
    assert sorted(n for n in names if n.startswith(DEVELOPMENT_FILES) or n + '/' in DEVELOPMENT_FILES) == []

    installed = tmp_path / 'collections'
    env = dict(ansible_env(), ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_LOAD_CALLBACK_PLUGINS='1',
               ANSIBLE_STDOUT_CALLBACK='ansible.builtin.minimal')
    env.pop('ANSIBLE_CONFIG')  # the checkout's ansible.cfg would find the checkout instead
    subprocess.run([galaxy, 'collection', 'install', str(tarball), '-p', str(installed)],
                   check=True, capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert (installed / 'ansible_collections' / 'nslab' / 'net' / 'MANIFEST.json').is_file()
    out = world.run([os.path.join(VENV, 'bin', 'ansible'), 'localhost', '-m', 'nslab.net.netns',
                     '-a', json.dumps({'name': ['from-tarball']})], env=env, cwd=str(tmp_path)).stdout
    assert 'CHANGED' in out and '/run/netns/from-tarball' in out
    assert world.run(['ip', 'netns', 'list']).stdout.split()[0] == 'from-tarball'

    # The playbooks shipped in the collection, by FQCN, as a user runs them: a local inventory
    # for the world's host, the seeds' lab with ns1 serving on the published port 8000.
    (tmp_path / 'hosts.yml').write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': '/usr/bin/python3'}}}}))
    (tmp_path / 'lab.yml').write_text(yaml.safe_dump({
        'lab_gateway': '10.0.0.254', 'lab_install_packages': False, 'lab_diagram_path': '/run/lab-diagram.md',
        'lab_namespaces': [dict(name='ns1', address='10.0.0.1', publish=['8000:8000'],
                                command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
                           dict(name='ns2', address='10.0.0.2')]}))
    env.pop('ANSIBLE_STDOUT_CALLBACK')  # the default callback prints the recap
    assert run_playbook(world, 'nslab.net.lab', env, str(tmp_path)) > 0
    assert http_get(world, 'host', 'http://127.0.0.1:8000/') == '10.0.0.254'
    assert run_playbook(world, 'nslab.net.teardown', env, str(tmp_path)) > 0
    assert http_get(world, 'host', 'http://127.0.0.1:8000/', timeout=2) is None  # answered above
    assert world.run(['ip', 'netns', 'list']).stdout.split() == ['from-tarball']
