# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.lab_network's main(): requirements, then the lab's run in one Netlink, then the result."""


import pytest

from module_harness import FakeNetlink, Recorder, run_module

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import FirewallError
from ansible_collections.nslab.net.plugins.module_utils._lab import runner as lab_runner
from ansible_collections.nslab.net.plugins.modules import lab_network


class Requirements:
    """missing_requirements: records the backend asked for, answers ``(missing, backend)``."""

    def __init__(self):
        self.answer = ([], 'nft')
        self.asked = []

    def __call__(self, module, backend):
        self.asked.append(backend)
        return self.answer


@pytest.fixture
def lab(monkeypatch):
    """A host with every requirement (nft), a Netlink that opens nothing, nothing preflighted."""
    FakeNetlink.made = []
    requirements = Requirements()
    monkeypatch.setattr(lab_runner, 'missing_requirements', requirements)
    monkeypatch.setattr(lab_runner, 'Netlink', FakeNetlink)

    def refuse(*args):
        raise AssertionError('the lab was read')

    monkeypatch.setattr(lab_runner, 'preflight', refuse)
    return requirements


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_runs_the_lab_with_the_resolved_backend_in_one_netlink(lab, monkeypatch, check_mode):
    run = Recorder()
    monkeypatch.setattr(lab_runner, 'run', run)
    result = run_module(lab_network.main, dict(name='demo', namespaces=[dict(name='ns1')]), check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, netlink, params, backend), = run.calls
    assert module.check_mode is check_mode and FakeNetlink.made == [netlink] and backend == 'nft'
    assert params['name'] == 'demo' and params['namespaces'] == [dict(name='ns1')]
    assert lab.asked == ['auto']


def test_a_lab_that_is_not_valid_fails_with_every_problem_before_the_host_is_read(lab):
    result = run_module(lab_network.main, dict(subnet='10.0.0.1/24', namespaces=[
        dict(name='a/b'), dict(name='ns1', publish=['99999:80']), dict(name='ns1')]))
    assert result['failed'] is True and result['changed'] is False
    assert result['problems'] == [
        'network br0: bridge br0: subnet 10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?',
        "namespace name 'a/b' may not contain '/'",
        'namespace ns1 is listed more than once',
        'link name ns1-eth0 is used by more than one namespace',
        "namespace ns1: port '99999:80': ports must be 1..65535, ranges low-high",
    ]
    assert result['msg'] == 'the lab is not valid: ' + '; '.join(result['problems'])


def test_missing_requirements_fail_naming_them_before_a_socket_is_opened(lab):
    lab.answer = (['pyroute2', 'iptables'], None)
    result = run_module(lab_network.main, {})
    assert result['failed'] is True and result['missing_requirements'] == ['pyroute2', 'iptables']
    assert result['msg'].startswith('the host lacks iptables; the Python interpreter ')
    assert FakeNetlink.made == []


def test_a_backend_that_cannot_be_detected_fails_the_module(monkeypatch, lab):
    def fail(module, backend):
        raise FirewallError('/usr/sbin/iptables -V failed: boom')

    monkeypatch.setattr(lab_runner, 'missing_requirements', fail)
    result = run_module(lab_network.main, {})
    assert result == dict(msg='/usr/sbin/iptables -V failed: boom', failed=True)


def test_a_failed_step_fails_the_module_with_the_steps_done(lab, monkeypatch):
    monkeypatch.setattr(lab_runner, 'run', Recorder(error=TaskFailed(
        'bridge: ip link add br0 type bridge failed: File exists', failed_step='bridge', changed=True,
        steps=[dict(step='netns', changed=True, commands=['ip netns add ns1'])])))
    result = run_module(lab_network.main, {})
    assert result['failed'] is True and result['failed_step'] == 'bridge' and result['changed'] is True
    assert result['steps'][0]['commands'] == ['ip netns add ns1']


@pytest.mark.parametrize('diff_mode', [False, True])
def test_the_diff_is_returned_only_in_diff_mode(lab, monkeypatch, diff_mode):
    monkeypatch.setattr(lab_runner, 'run', Recorder(result=dict(changed=False, commands=[], diff=dict(before={}, after={}))))
    result = run_module(lab_network.main, dict(_ansible_diff=diff_mode))
    assert ('diff' in result) is diff_mode and result['changed'] is False
