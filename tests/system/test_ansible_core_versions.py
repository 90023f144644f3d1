# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's system path on every ansible-core series of the controller matrix.

requirements/cores/ pins one controller venv per series, from the oldest that meta/runtime.yml
declares to the newest on PyPI, each on the Python it needs (scripts/bootstrap.sh makes them
under .venv/cores). Each series runs ``playbooks/lab.yml`` as a user of that release would, on
a fleet of three sandbox hosts over SSH joined by the overlay: build, re-run (changed=0), an
edit, teardown, with no warning at any step. Series 2.19 is .venv itself, which every other
system test runs (test_lab_overlay the same path and more), so it is not repeated here.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import tempfile

import pytest
import yaml

from ansible_runs import REPO, VENV
from firewall_lab import ECHO_HTTP
from nslab_sandbox import World
from nslab_sandbox.fleet import LAB_PLAYBOOK, Fleet
from test_lab_overlay import Recap

pytestmark = pytest.mark.system

CORES = os.path.join(REPO, 'requirements', 'cores')
SERIES = sorted((os.path.basename(path)[len('ansible-core-'):-len('.txt')]
                 for path in glob.glob(os.path.join(CORES, 'ansible-core-*.txt'))),
                key=lambda series: tuple(int(part) for part in series.split('.')))
WARNING = re.compile(r'^\[(?:DEPRECATION )?WARNING\].*', re.M)
#: Warnings a series prints whatever the role does. 2.16.20's own task that validates a role's
#: arguments against its meta/argument_specs.yml is written in the form it deprecates
#: (ansible/playbook/role/__init__.py: 'action' as a mapping); every role with argument specs
#: gets it there; no other series warns of it.
CORES_OWN_WARNINGS = {'2.16': ['[DEPRECATION WARNING]: Using a mapping for `action` is deprecated. Use a string']}


def core_python(series):
    """The Python a series' requirements name (their ``# python: 3.X`` line)."""
    with open(os.path.join(CORES, 'ansible-core-%s.txt' % series), encoding='utf-8') as handle:
        return re.search(r'^# python: (3\.\d+)$', handle.read(), re.M).group(1)


def lab_variables(number, port):
    """Host fleetN's lab: its own subnet, a web server published on *port*, and a client."""
    return dict(
        lab_subnet='10.0.%d.0/24' % number,
        lab_namespaces=[dict(name='web', address='10.0.%d.2' % number, publish=['%d:8000' % port],
                             command='exec python3 %s --bind 0.0.0.0 --port 8000' % ECHO_HTTP),
                        dict(name='client', address='10.0.%d.3' % number)])


class SeriesFleet:
    """A fleet of three hosts whose lab playbook runs from one series' controller venv."""

    def __init__(self, fleet, series, directory):
        self.fleet = fleet
        self.bin = os.path.join(VENV, 'cores', 'ansible-core-' + series, 'bin')
        self.cores_own_warnings = CORES_OWN_WARNINGS.get(series, [])
        self.directory = directory

    def inventory(self, port):
        with open(self.fleet.inventory(os.path.join(self.directory, 'fleet.yml')), encoding='utf-8') as handle:
            inventory = yaml.safe_load(handle)
        for name, host in inventory['all']['children']['fleet']['hosts'].items():
            host.update(lab_variables(int(name[len('fleet'):]), port))
        # The fleet's hosts name no nameserver; the role would warn and choose Docker's.
        inventory['all']['vars'].update(lab_overlay=dict(vni=42), lab_install_packages=False, lab_dns=['203.0.113.10'])
        path = os.path.join(self.directory, 'matrix.yml')
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(inventory, handle)
        return path

    def play(self, port=8000, *args):
        """Run the lab playbook; the changed count of each host. Fails on any warning."""
        env = self.fleet.env()
        env['PATH'] = os.pathsep.join([self.bin, env['PATH']])
        argv = [os.path.join(self.bin, 'ansible-playbook'), '-i', self.inventory(port), '--forks', '4',
                LAB_PLAYBOOK] + list(args)
        proc = self.fleet.world.run(argv, 'host', check=False, timeout=600, cwd=self.fleet.directory, env=env)
        recap = Recap(proc).ok()
        assert sorted(recap.hosts) == ['fleet1', 'fleet2', 'fleet3'], recap.output[-6000:]
        # Not the "does not support Ansible version" of a requires_ansible newer than the core,
        # not a deprecation of what the role or the modules use.
        warnings = [line for line in WARNING.findall(recap.output) if line not in self.cores_own_warnings]
        assert not warnings, warnings
        return {host: counts['changed'] for host, counts in recap.hosts.items()}

    def http(self, host, address, port, netns=None):
        """What an HTTP GET from *host* (or its namespace *netns*) to *address*:*port* answers."""
        command = 'curl -sS --fail --noproxy "*" -m 3 http://%s:%d/' % (address, port)
        if netns:
            command = 'ip netns exec %s %s' % (netns, command)
        proc = self.fleet.sh(host, command, check=False, timeout=30)
        return proc.stdout.strip() if proc.returncode == 0 else None


# The everyday tier (not slow) runs the ends of the range; CI runs every series.
@pytest.fixture(params=[series if series in (SERIES[0], SERIES[-1]) else pytest.param(series, marks=pytest.mark.slow)
                        for series in SERIES if series != '2.19'])
def series_fleet(request):
    series = request.param
    ansible_playbook = os.path.join(VENV, 'cores', 'ansible-core-' + series, 'bin', 'ansible-playbook')
    if not os.path.exists(ansible_playbook):
        found = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'find-python.sh'), core_python(series)],
                               capture_output=True, text=True, check=False)
        pytest.fail('ansible-core %s has no controller venv (%s): scripts/bootstrap.sh makes it on Python %s. %s'
                    % (series, ansible_playbook, core_python(series), found.stderr.strip()), pytrace=False)
    with tempfile.TemporaryDirectory(prefix='nslab-matrix-') as directory:
        with World() as world, Fleet(world, count=3) as fleet:
            yield series, SeriesFleet(fleet, series, directory)


def test_every_series_builds_reruns_edits_and_tears_down_the_fleets_lab(series_fleet):
    series, lab = series_fleet
    version = lab.fleet.world.run([os.path.join(lab.bin, 'ansible-playbook'), '--version']).stdout
    assert 'core %s.' % series in version.splitlines()[0], version
    with open(os.path.join(REPO, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        assert yaml.safe_load(handle)['requires_ansible'] == '>=%s.0' % SERIES[0]

    assert all(lab.play().values())
    # The overlay: fleet1's client reaches fleet2's web server, which sees the client's own
    # address; and every host reaches every other host's published port.
    assert lab.http('fleet1', '10.0.2.2', 8000, netns='client') == '10.0.1.3'
    assert lab.http('fleet3', lab.fleet.host('fleet2').address, 8000) == lab.fleet.host('fleet3').address

    assert lab.play() == {'fleet1': 0, 'fleet2': 0, 'fleet3': 0}

    # An edit: the web server moves to published port 8001 on every host.
    assert all(lab.play(8001).values())
    assert lab.http('fleet3', lab.fleet.host('fleet2').address, 8001) == lab.fleet.host('fleet3').address
    assert lab.http('fleet3', lab.fleet.host('fleet2').address, 8000) is None  # 8001 answered above

    assert all(lab.play(8001, '-e', 'lab_state=absent').values())
    for host in lab.fleet.hosts:
        assert lab.fleet.run(host.name, ['ip', 'netns', 'list']).stdout.split() == []
        assert lab.fleet.run(host.name, ['ip', '-o', 'link', 'show', 'nslab.42'], check=False).returncode != 0
