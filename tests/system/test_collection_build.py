# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as users get it: built with ansible-galaxy, installed, and working."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile

import pytest

from ansible_runs import REPO, VENV, ansible_env

pytestmark = pytest.mark.system


def test_built_tarball_installs_and_its_modules_work(world, tmp_path):
    galaxy = os.path.join(VENV, 'bin', 'ansible-galaxy')
    subprocess.run([galaxy, 'collection', 'build', REPO, '--output-path', str(tmp_path)],
                   check=True, capture_output=True, text=True, timeout=120)
    (tarball,) = tmp_path.glob('nslab-net-*.tar.gz')
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {'plugins/modules/veth.py', 'plugins/module_utils/_netlink/adapter.py', 'README.md'} <= names
    assert not any(n.startswith(('.venv', 'tools/', 'scripts/', '.ci')) for n in names)

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
