# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.netns_service's main(): arguments -> service_spec -> converge_services -> result.

The spec keeps the arguments' problems, so that the task reports them together with the
host's: bad input is held here to the real converge, on a host below tmp_path without systemd.
"""


import os

import pytest

from module_harness import Recorder, run_module

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._services import paths as service_paths
from ansible_collections.nslab.net.plugins.module_utils._services import processes, tasks
from ansible_collections.nslab.net.plugins.modules import netns_service


@pytest.fixture
def host(tmp_path, monkeypatch):
    """No systemd, namespace ns1 only, records below tmp_path; spawning or signalling fails the test."""
    for module in (service_paths, processes):
        monkeypatch.setattr(module, 'STATE_DIR', str(tmp_path / 'state'))
    monkeypatch.setattr(tasks, 'booted', lambda: False)
    monkeypatch.setattr(named_namespaces, 'status', lambda name: 'present' if name == 'ns1' else 'absent')

    def refuse(*args, **kwargs):
        raise AssertionError('the test started or stopped a process')

    monkeypatch.setattr(processes, 'start', refuse)
    monkeypatch.setattr(processes, 'stop', refuse)
    return tmp_path


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_converges_the_parsed_spec_and_returns_its_result(host, monkeypatch, check_mode):
    converge = Recorder()
    monkeypatch.setattr(netns_service, 'converge_services', converge)
    result = run_module(netns_service.main, dict(netns='ns1', command='python3 -m http.server 80'), check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, spec), = converge.calls
    assert module.check_mode is check_mode
    assert spec == dict(services=[dict(name='ns1', netns='ns1', command='python3 -m http.server 80',
                                       chdir=str(host / 'state' / 'ns1.d'), own_chdir=True)],
                        problems=[], state='present', manager='auto')


def test_bad_services_fail_with_every_problem_and_change_nothing(host):
    result = run_module(netns_service.main, dict(services=[
        dict(netns='ns1', name='web server', command='true'),
        dict(netns='ns2', command='true', chdir='/srv/site'),
        dict(netns='ns1', name='api')], manager='systemd'))
    assert result['failed'] is True and result['changed'] is False
    assert result['problems'] == [
        "service 'web server': service name 'web server' may only contain letters, digits, '-', '_' and '.',"
        " at most 64 characters",
        "service 'api': command is required with state=present",
        'manager systemd: systemd is not the init system here (/run/systemd/system is not a directory); use'
        ' manager: auto or process',
        "service 'ns2': namespace ns2 does not exist (create it first, e.g. with nslab.net.netns)",
        "service 'ns2': chdir /srv/site is not a directory",
    ]
    assert not os.path.exists(str(host / 'state'))


def test_a_check_run_takes_a_missing_namespace_as_made_earlier_in_the_play(host):
    result = run_module(netns_service.main, dict(netns='ns9', command='sleep 1000'), check_mode=True)
    assert result['failed'] is False and result['changed'] is True and result['manager'] == 'process'
    assert not os.path.exists(str(host / 'state'))


def test_services_and_their_top_level_options_are_mutually_exclusive(host):
    result = run_module(netns_service.main, dict(netns='ns1', services=[dict(netns='ns1', command='true')]))
    assert result['failed'] is True and 'mutually exclusive' in result['msg']
