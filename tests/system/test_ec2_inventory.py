# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The EC2 inventory example (inventories/ec2) against an emulated EC2 API, offline.

moto's server runs on 127.0.0.1 with a fleet of tagged, untagged and stopped instances of
several image families, two of them sharing a Name; the real amazon.aws.aws_ec2 plugin (from
.venv/ec2, made by scripts/bootstrap-ec2.sh) reads the unchanged example through it, as
``ansible-inventory`` and ``ansible-playbook`` do for a user. Needs neither root nor a sandbox
world: everything it starts listens on the loopback address and ends with the module.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from ansible_runs import REPO

# One pytest-xdist worker runs the file: its emulated EC2 API and instances are made once.
# Slow: an inventory plugin, not the lab; the everyday tier leaves it to CI.
pytestmark = [pytest.mark.xdist_group('ec2'), pytest.mark.slow]

EC2_VENV = os.path.join(REPO, '.venv', 'ec2')
EXAMPLE = os.path.join(REPO, 'inventories', 'ec2', 'aws_ec2.yml')
REGION = 'eu-west-1'  # the one the example names
LAB = {'nslab-lab': 'true'}

#: Who is who: a label (the test's name for an instance), its image family, tags and state.
FLEET = [
    ('web-debian', 'debian', dict(LAB, Name='web'), 'running'),
    ('web-ubuntu', 'ubuntu', dict(LAB, Name='web', **{'nslab-lab-os': 'ubuntu', 'nslab-lab-group': 'edge'}),
     'running'),
    ('router-amazon', 'amazon', dict(LAB, Name='router', **{'nslab-lab-os': 'amazon', 'nslab-lab-group': 'edge'}),
     'running'),
    ('unnamed-debian', 'debian', dict(LAB, **{'nslab-lab-os': 'debian'}), 'running'),
    ('web-stopped', 'debian', dict(LAB, Name='web'), 'stopped'),
    ('web-not-lab', 'ubuntu', {'Name': 'web', 'nslab-lab': 'false', 'nslab-lab-os': 'ubuntu'}, 'running'),
    ('web-untagged', 'debian', {'Name': 'web'}, 'running'),
    ('bare', 'amazon', {}, 'running'),
]

#: What the inventory makes of the lab's running instances: name prefix, login user, groups.
EXPECTED = {
    'web-debian': ('web_', 'admin', {'aws_ec2', 'lab_default', 'os_debian'}),
    'web-ubuntu': ('web_', 'ubuntu', {'aws_ec2', 'lab_edge', 'os_ubuntu'}),
    'router-amazon': ('router_', 'ec2-user', {'aws_ec2', 'lab_edge', 'os_amazon'}),
    'unnamed-debian': ('', 'admin', {'aws_ec2', 'lab_default', 'os_debian'}),
}

READY_SECONDS = 30


def ec2_tool(name):
    path = os.path.join(EC2_VENV, 'bin', name)
    if not os.path.exists(path):
        pytest.fail('%s is missing: run scripts/bootstrap-ec2.sh (scripts/bootstrap.sh runs it)' % path,
                    pytrace=False)
    return path


def clean_env(home):
    """This process's environment without AWS settings or proxies, and an empty home.

    No credentials, profile or config of whoever runs the tests can reach the plugin, and nothing
    asks the instance metadata address: the only AWS the plugin sees is the emulated one.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('AWS_', 'BOTO', 'ANSIBLE_')) and 'proxy' not in key.lower()}
    env.update(HOME=str(home), AWS_EC2_METADATA_DISABLED='true', NO_PROXY='127.0.0.1,localhost')
    return env


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def wait_until_answering(server, url, log):
    """Poll the server's API until it answers, for READY_SECONDS at most."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail('moto_server exited with %s:\n%s' % (server.returncode, log.read_text()), pytrace=False)
        try:
            with opener.open(url + '/moto-api/', timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail('moto_server did not answer on %s within %ss:\n%s' % (url, READY_SECONDS, log.read_text()),
                pytrace=False)


@pytest.fixture(scope='module')
def ec2_api(tmp_path_factory):
    """The URL of an emulated EC2 API on 127.0.0.1, and the environment to reach it with."""
    tmp = tmp_path_factory.mktemp('ec2')
    env = clean_env(tmp)
    url = 'http://127.0.0.1:%d' % free_port()
    log = tmp / 'moto.log'
    with open(log, 'wb') as output:
        server = subprocess.Popen([ec2_tool('moto_server'), '-H', '127.0.0.1', '-p', url.rsplit(':', 1)[1]],
                                  stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        wait_until_answering(server, url, log)
        env.update(AWS_URL=url, AWS_ACCESS_KEY_ID='testing', AWS_SECRET_ACCESS_KEY='testing')
        yield url, env
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope='module')
def fleet(ec2_api):
    """The FLEET, launched: label -> the instance's id."""
    url, env = ec2_api
    wanted = [{'label': label, 'image': image, 'tags': tags, 'state': state} for label, image, tags, state in FLEET]
    launched = subprocess.run([ec2_tool('python'), os.path.join(REPO, 'tests', 'system', 'ec2_fleet.py'), url, REGION],
                              input=json.dumps(wanted), env=env, check=True, capture_output=True, text=True,
                              timeout=60).stdout
    return {instance['label']: instance['id'] for instance in json.loads(launched)}


def ansible(ec2_api, *args):
    _url, env = ec2_api
    env = dict(env, ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.path.join(EC2_VENV, 'collections'),
                                                         os.path.join(REPO, '.venv', 'collections')]),
               # A source the plugin cannot read is an error, not a warning and an empty inventory.
               ANSIBLE_INVENTORY_UNPARSED_FAILED='1', ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED='1')
    return subprocess.run([ec2_tool(args[0])] + list(args[1:]), env=env, cwd=REPO, check=True,
                          capture_output=True, text=True, timeout=120).stdout


def inventory(ec2_api, source):
    """``ansible-inventory --list`` of source: {host: (its groups, its variables)}."""
    listed = plain(json.loads(ansible(ec2_api, 'ansible-inventory', '-i', source, '--list')))
    groups = {}
    for group, members in listed.items():
        if group not in ('_meta', 'all', 'ungrouped'):
            for host in members.get('hosts', []):
                groups.setdefault(host, set()).add(group)
    hostvars = listed['_meta']['hostvars']
    assert set(groups) == set(hostvars), 'every host is in a group, and only hosts with variables'
    return {host: (groups[host], hostvars[host]) for host in hostvars}


def plain(value):
    """The JSON of ansible-inventory without the markers of untrusted (plugin-made) strings."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def test_every_running_lab_instance_is_one_host_with_the_user_of_its_image(ec2_api, fleet):
    hosts = inventory(ec2_api, EXAMPLE)

    expected = {prefix + fleet[label]: (groups, user) for label, (prefix, user, groups) in EXPECTED.items()}
    assert {host: (groups, variables.get('ansible_user')) for host, (groups, variables) in hosts.items()} == expected
    for label, (prefix, _user, _groups) in EXPECTED.items():
        _groups, variables = hosts[prefix + fleet[label]]
        assert variables['instance_id'] == fleet[label]
        assert variables['state']['name'] == 'running'
        assert variables['ansible_become'] is True
        assert variables['ansible_host'] == variables['public_ip_address']


def test_names_alone_would_hide_an_instance(ec2_api, fleet, tmp_path):
    """Control: this fleet does collide under the old ``hostnames: [tag:Name, instance-id]``."""
    with open(EXAMPLE) as stream:
        config = yaml.safe_load(stream)
    config['hostnames'] = ['tag:Name', 'instance-id']
    old = tmp_path / 'old.aws_ec2.yml'
    old.write_text(yaml.safe_dump(config))

    hosts = inventory(ec2_api, str(old))

    assert sorted(hosts) == sorted(['web', 'router', fleet['unnamed-debian']])
    assert hosts['web'][1]['instance_id'] in (fleet['web-debian'], fleet['web-ubuntu'])


def test_the_lab_play_reaches_every_lab_instance_and_a_group_narrows_it(ec2_api, fleet):
    def play_hosts(*extra):
        listed = ansible(ec2_api, 'ansible-playbook', '-i', EXAMPLE, 'playbooks/lab.yml', '--list-hosts', *extra)
        return sorted(line.strip() for line in listed.split('hosts (', 1)[1].splitlines()[1:] if line.strip())

    everyone = sorted(prefix + fleet[label] for label, (prefix, _user, _groups) in EXPECTED.items())
    assert play_hosts() == everyone
    edge = sorted(['web_' + fleet['web-ubuntu'], 'router_' + fleet['router-amazon']])
    assert play_hosts('-e', 'lab_hosts=lab_edge') == edge
