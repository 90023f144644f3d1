# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's diagram through ``ansible-playbook playbooks/lab.yml -i localhost, -c local``.

The diagram is a report on the controller, not state of the host: it lands in the directory
ansible-playbook runs in (whatever the inventory: ``-i localhost,`` gives no inventory
directory), it never makes a run changed, it shows only its own lab, and a teardown removes it.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile

import pytest
import yaml

from ansible_runs import REPO, VENV, ansible_env
from nslab_sandbox import HOST_ADDRESS

PLAYBOOK = os.path.join(REPO, 'playbooks', 'lab.yml')
# As inventories/local says: the interpreter where the distribution's pyroute2 is installed.
SYSTEM_PYTHON = '/usr/bin/python3'
RECAP = re.compile(r'^localhost\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)
LAB = dict(lab_install_packages=False, lab_gateway='10.0.0.1',
           lab_namespaces=[dict(name='ns1', address='10.0.0.2', publish=['8000:8000'])])
# Another lab on the same host: its own name, bridge, subnet and namespace.
OTHER_LAB = dict(lab_install_packages=False, lab_name='two', lab_bridge='br1', lab_subnet='10.1.0.0/24',
                 lab_gateway='10.1.0.1', lab_namespaces=[dict(name='web', address='10.1.0.2')])


def role_has_lab_name():
    """Whether the role passes lab_name to the module yet (the lab name arrives separately)."""
    with open(os.path.join(REPO, 'roles', 'lab', 'defaults', 'main.yml'), encoding='utf-8') as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(REPO, 'roles', 'lab', 'tasks', 'lab.yml'), encoding='utf-8') as handle:
        task = handle.read()
    return 'lab_name' in defaults and 'lab_name' in task


class Play:
    """One ansible-playbook run: exit status, output, and the recap's changed and failed."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr
        found = RECAP.findall(proc.stdout)
        self.changed, self.failed = (int(found[-1][1]), int(found[-1][3])) if found else (None, None)

    def __repr__(self):
        return self.output[-4000:]


def play(world, workdir, variables, *args, playbook=PLAYBOOK):
    """``ansible-playbook PLAYBOOK -i localhost, -c local`` started in ``workdir``; it must succeed."""
    with tempfile.NamedTemporaryFile('w', suffix='.yml', prefix='nslab-vars-', encoding='utf-8') as handle:
        yaml.safe_dump(variables, handle)
        handle.flush()
        argv = [os.path.join(VENV, 'bin', 'ansible-playbook'), playbook, '-i', 'localhost,', '-c', 'local',
                '-e', 'ansible_python_interpreter=%s' % SYSTEM_PYTHON, '-e', '@' + handle.name] + list(args)
        result = Play(world.run(argv, check=False, env=ansible_env(), timeout=600, cwd=workdir))
    assert result.rc == 0 and result.failed == 0, result
    return result


def diagrams(workdir):
    return sorted(os.path.basename(path) for path in glob.glob(os.path.join(workdir, '*.md')))


def read(workdir, name):
    with open(os.path.join(workdir, name), encoding='utf-8') as handle:
        return handle.read()


def repository_diagrams():
    """Diagrams next to this checkout's playbooks or inventories (the installed collection)."""
    found = glob.glob(os.path.join(REPO, 'playbooks', '**', '*.md'), recursive=True)
    return sorted(found + glob.glob(os.path.join(REPO, 'inventories', '**', '*.md'), recursive=True))


def test_the_diagram_is_a_report_in_the_working_directory(world, tmp_path):
    workdir = str(tmp_path)
    in_repository = repository_diagrams()
    # Another bridge with an address on the host, as Docker's docker0 or another lab's.
    world.run(['ip', 'link', 'add', 'br9', 'type', 'bridge'])
    world.run(['ip', 'addr', 'add', '10.9.0.1/24', 'dev', 'br9'])
    world.run(['ip', 'link', 'set', 'br9', 'up'])

    assert play(world, workdir, LAB, '--check').changed > 0
    assert diagrams(workdir) == []  # check mode writes nothing

    first = play(world, workdir, LAB)
    assert first.changed > 0
    assert diagrams(workdir) == ['lab-localhost.md']
    diagram = read(workdir, 'lab-localhost.md')
    assert diagram.startswith('# Lab on localhost\n')
    assert 'up_eth0["eth0 %s"]' % HOST_ADDRESS in diagram and 'ns_ns1 --- br_br0' in diagram
    assert '10.9.0.1' not in diagram and 'br9' not in diagram
    written = os.stat(os.path.join(workdir, 'lab-localhost.md')).st_mtime_ns

    # A run that changes nothing on the host reports nothing changed, and leaves the file be.
    assert play(world, workdir, LAB).changed == 0
    assert os.stat(os.path.join(workdir, 'lab-localhost.md')).st_mtime_ns == written
    # Nor does a run of the playbook by its FQCN, from inside the installed collection.
    assert play(world, workdir, LAB, playbook='nslab.net.lab').changed == 0
    assert read(workdir, 'lab-localhost.md') == diagram
    # A diagram that differs (edited, or from an older version) is rewritten, still unchanged.
    with open(os.path.join(workdir, 'lab-localhost.md'), 'w', encoding='utf-8') as handle:
        handle.write('edited\n')
    assert play(world, workdir, LAB).changed == 0
    assert read(workdir, 'lab-localhost.md') == diagram

    # Where the diagram cannot be written, the lab stands: a warning names the path and why.
    failing = play(world, workdir, dict(LAB, lab_diagram_path='missing/lab.md'))
    assert failing.changed == 0
    assert 'could not write the diagram %s/missing/lab.md' % workdir in failing.output, failing
    assert 'No such file or directory' in failing.output, failing

    # A teardown in check mode removes nothing; a real one removes the diagram.
    assert play(world, workdir, dict(LAB, lab_state='absent'), '--check').changed > 0
    assert diagrams(workdir) == ['lab-localhost.md']
    assert play(world, workdir, dict(LAB, lab_state='absent')).changed > 0
    assert diagrams(workdir) == []
    assert 'br0' not in world.run(['ip', '-o', 'link', 'show']).stdout
    # A teardown of what is gone, without a diagram, is no change and no failure.
    assert play(world, workdir, dict(LAB, lab_state='absent')).changed == 0
    assert repository_diagrams() == in_repository


@pytest.mark.skipif(not role_has_lab_name(), reason='the role passes no lab_name to lab_network yet')
def test_two_labs_on_one_host_each_have_their_own_diagram(world, tmp_path):
    workdir = str(tmp_path)
    assert play(world, workdir, LAB).changed > 0
    assert play(world, workdir, OTHER_LAB).changed > 0
    assert diagrams(workdir) == ['lab-localhost.md', 'two-localhost.md']
    # Each lab, run again after the other, changes nothing: no diagram is rewritten by the other.
    assert play(world, workdir, LAB).changed == 0
    assert play(world, workdir, OTHER_LAB).changed == 0
    one, two = read(workdir, 'lab-localhost.md'), read(workdir, 'two-localhost.md')
    assert one.startswith('# Lab on localhost\n') and two.startswith('# Lab two on localhost\n')
    assert 'up_eth0["eth0 %s"]' % HOST_ADDRESS in one and 'up_eth0["eth0 %s"]' % HOST_ADDRESS in two
    assert 'br_br0' in one and 'ns_ns1' in one and 'br_br1' in two and 'ns_web' in two
    for other in ('10.1.0.', 'br1', 'web'):
        assert other not in one
    for other in ('10.0.0.', 'br0', 'ns1'):
        assert other not in two

    # Tearing one lab down removes its diagram only.
    assert play(world, workdir, dict(OTHER_LAB, lab_state='absent')).changed > 0
    assert diagrams(workdir) == ['lab-localhost.md']
    assert play(world, workdir, LAB).changed == 0
    assert play(world, workdir, dict(LAB, lab_state='absent')).changed > 0
    assert diagrams(workdir) == []
