# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A published port's text is parsed once per machine per run (issue 23).

The host's whole run of lab_network (``_lab/runner.run``: the check, the preflight with its
collision checks, every step, the restore's declaration) and the controller's (the action
plugin's check, then the summary of the module's result) each parse every port text of the
lab exactly once. Every parse of a port's text goes through ``ports._read``, which the tests
count; the host's run has every reader and writer of the host faked, the steps included.
"""

import json
from unittest.mock import MagicMock

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.action.lab_network import ActionModule
from ansible_collections.nslab.net.plugins.module_utils._firewall import ports
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort
from ansible_collections.nslab.net.plugins.module_utils._lab import runner
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import LAB_ARGS

#: Two networks, ports on both of one namespace's memberships, a range, a duplicate, a
#: namespace without ports, and one that goes (whose text is never read).
LAB = dict(
    name='shop',
    networks=[dict(name='front', bridge='br-front', subnet='10.1.0.0/24'),
              dict(name='back', bridge='br-back', subnet='10.2.0.0/24')],
    namespaces=[
        dict(name='web', publish=['8080:80', '127.0.0.1:9000-9001:90-91/udp', '8080:80']),
        dict(name='api', networks=[dict(network='front', publish=['8000:8000']),
                                   dict(network='back', publish=['5353:53/udp'])]),
        dict(name='db', networks=['back']),
        dict(name='gone', state='absent', publish=['7000:7000'])])
#: The texts of the namespaces that stay: each is parsed once per machine.
TEXTS = 5
HOST = {'host': {'links': [dict(name='lo', kind=None, addresses=['127.0.0.1/8']),
                           dict(name='eth0', kind=None, addresses=['198.51.100.2/24'])],
                 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
        'namespaces': {}, 'name_files': {}}


@pytest.fixture
def parses(monkeypatch):
    """The texts parsed so far."""
    seen = []
    read = ports._read

    def counted(spec):
        seen.append(spec)
        return read(spec)

    monkeypatch.setattr(ports, '_read', counted)
    return seen


class Lock:
    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _no_change(*args, **kwargs):
    return dict(changed=False, commands=[], diff=dict(before={}, after={}))


@pytest.fixture
def host(monkeypatch):
    """A host with nothing on it for the run to read; the steps' specs, by step."""
    specs = {}

    def step(name):
        def converge(module, netlink, spec, **kwargs):
            specs.setdefault(name, []).append(spec)
            return _no_change()
        return converge

    monkeypatch.setattr(runner, 'STEPS', {name: step(name) for name in runner.STEPS})
    monkeypatch.setattr(runner, 'converge_netns', step('netns'))
    monkeypatch.setattr(runner, 'converge_names', lambda module, spec, current=None: _no_change())
    monkeypatch.setattr(runner, 'LabLock', Lock)
    monkeypatch.setattr(runner, 'load_records', dict)
    monkeypatch.setattr(runner.named_namespaces, 'inodes', lambda names: {})
    monkeypatch.setattr(runner, 'read_host', lambda netlink, state: json.loads(json.dumps(HOST)))
    monkeypatch.setattr(runner, 'nat_ruleset', lambda module, backend: MagicMock(chains={}))
    monkeypatch.setattr(runner, 'listening_sockets', lambda ports=None: [])
    monkeypatch.setattr(runner, 'read_name_files', dict)
    monkeypatch.setattr(runner, 'restore_problem', lambda params, state: None)
    monkeypatch.setattr(runner, 'converge_restore', lambda module, params, spec, plan: _no_change())
    monkeypatch.setattr(runner, 'restore_status', lambda params, state: dict(at_boot=False, reason='test'))
    return specs


def host_run():
    """lab_network's result for LAB (in check mode), as JSON brings it to the controller."""
    params = ArgumentSpecValidator(LAB_ARGS['argument_spec']).validate(dict(LAB)).validated_parameters
    module = MagicMock(check_mode=True)
    return json.loads(json.dumps(runner.run(module, MagicMock(), params, 'nft')))


def controller_run(result):
    """The action plugin's run of LAB, with ``result`` as the module's."""
    task = MagicMock(args=dict(LAB), register=None, async_val=0, check_mode=False, action='nslab.net.lab_network')
    connection = MagicMock()
    connection._shell.tmpdir = '/tmp/unused'
    action = ActionModule(task, connection, MagicMock(check_mode=False), None, None)
    action._execute_module = lambda **kwargs: dict(result)
    return action.run(task_vars={'inventory_hostname': 'h1'})


def test_the_host_parses_each_port_text_once_and_every_step_reads_the_parsed_ports(parses, host):
    result = host_run()
    assert len(parses) == TEXTS and '7000:7000' not in parses
    (publish,) = host['port_publish']
    assert publish['wanted']['br-front']['10.1.0.2'][1] == PublishedPort('udp', '127.0.0.1', 9000, '10.1.0.2', 90)
    assert sum(len(item['ports']) for item in result['plan']['publish']) == 5


def test_the_controller_parses_each_port_text_once_checking_and_summing_up(parses, host):
    result = host_run()
    del parses[:]
    answer = controller_run(result)
    assert not answer.get('failed'), answer
    assert len(parses) == TEXTS
    assert answer['summary']['totals']['published'] == 5
    assert [(port['namespace'], port['host_port']) for port in answer['summary']['published']] == [
        ('web', 8080), ('web', 9000), ('web', 9001), ('api', 8000), ('api', 5353)]
