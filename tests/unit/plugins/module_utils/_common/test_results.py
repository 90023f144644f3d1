# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_module, the one call of every module's main(), and the converge functions that bring
what a module needs besides its arguments: a Netlink (in_netlink), the lab's requirements."""


import sys

import pytest

from adapter_fakes import FakeModule

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.results import run_module
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import FirewallError
from ansible_collections.nslab.net.plugins.module_utils._lab import runner as lab_runner
from ansible_collections.nslab.net.plugins.module_utils._netlink import session
from ansible_collections.nslab.net.plugins.module_utils._netlink.session import in_netlink

RESULT = dict(changed=True, commands=['ip netns add ns1'], diff=dict(before={}, after=dict(netns=['ns1'])),
              netns=['ns1'])


class Ended(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class EndingModule(FakeModule):
    """A module whose exit_json and fail_json raise Ended with the result."""

    def __init__(self, params=None, check_mode=False, diff=False):
        super().__init__(check_mode=check_mode)
        self.params = dict(params or {})
        self._diff = diff

    def exit_json(self, **result):
        raise Ended(dict(result, failed=False))

    def fail_json(self, msg, **result):
        raise Ended(dict(result, msg=msg, failed=True))


def ended(module, parse, converge, **options):
    with pytest.raises(Ended) as end:
        run_module(module, parse, converge, **options)
    return end.value.result


class Converge:
    """Records ``(module, spec)``, answers ``RESULT`` or raises ``error``."""

    def __init__(self, error=None):
        self.calls = []
        self.error = error

    def __call__(self, module, spec):
        self.calls.append((module, spec))
        if self.error is not None:
            raise self.error
        return dict(RESULT)


def parse_names(params):
    if '/' in params['name']:
        raise TaskFailed("namespace name %r may not contain '/'" % params['name'], problems=['the problem'])
    return dict(names=[params['name']])


@pytest.mark.parametrize('check_mode', [False, True])
def test_the_parsed_spec_is_converged_and_its_result_ends_the_module(check_mode):
    converge = Converge()
    module = EndingModule(dict(name='ns1'), check_mode=check_mode)
    assert ended(module, parse_names, converge) == dict(RESULT, failed=False)
    (seen, spec), = converge.calls
    assert seen is module and seen.check_mode is check_mode and spec == dict(names=['ns1'])


def test_arguments_that_do_not_parse_fail_with_their_fields_and_converge_nothing():
    converge = Converge()
    result = ended(EndingModule(dict(name='a/b')), parse_names, converge)
    assert result == dict(msg="namespace name 'a/b' may not contain '/'", problems=['the problem'], failed=True)
    assert converge.calls == []


def test_a_failing_converge_fails_the_module_with_its_fields():
    converge = Converge(TaskFailed('ip netns add ns1 failed', changed=False, commands=['ip netns add ns1'], applied=[]))
    result = ended(EndingModule(dict(name='ns1')), parse_names, converge)
    assert result == dict(msg='ip netns add ns1 failed', changed=False, commands=['ip netns add ns1'], applied=[],
                          failed=True)


@pytest.mark.parametrize('diff_mode', [False, True])
def test_the_diff_is_returned_in_and_out_of_diff_mode_unless_asked_otherwise(diff_mode):
    assert ended(EndingModule(dict(name='ns1'), diff=diff_mode), parse_names, Converge())['diff'] == RESULT['diff']


@pytest.mark.parametrize('diff_mode', [False, True])
def test_diff_only_in_diff_mode_drops_it_outside_diff_mode(diff_mode):
    result = ended(EndingModule(dict(name='ns1'), diff=diff_mode), parse_names, Converge(),
                   diff_only_in_diff_mode=True)
    assert ('diff' in result) is diff_mode
    assert result['netns'] == ['ns1'] and result['commands'] == ['ip netns add ns1']


# --- in_netlink: pyroute2 looked for after the arguments parse, then one Netlink


class OpenedNetlink:
    made = []

    def __init__(self):
        self.entered = self.exited = 0
        OpenedNetlink.made.append(self)

    def __enter__(self):
        self.entered += 1
        return self

    def __exit__(self, *exc_info):
        self.exited += 1
        return False


@pytest.fixture
def netlink(monkeypatch):
    OpenedNetlink.made = []
    respawns = []
    monkeypatch.setattr(session, 'Netlink', OpenedNetlink)
    monkeypatch.setattr(session, 'PYROUTE2_IMPORT_ERROR', None)
    monkeypatch.setattr(session, 'respawn_with', respawns.append)  # a respawn would not return
    return respawns


def test_in_netlink_converges_in_one_netlink_closed_after(netlink):
    calls = []

    def converge(module, opened, spec):
        calls.append((module, opened, spec))
        return dict(RESULT)

    module = EndingModule(dict(name='ns1'))
    assert ended(module, parse_names, in_netlink(converge)) == dict(RESULT, failed=False)
    (opened,) = OpenedNetlink.made
    assert calls == [(module, opened, dict(names=['ns1']))] and opened.exited == 1


def test_without_pyroute2_the_module_respawns_then_names_the_interpreter(netlink, monkeypatch):
    monkeypatch.setattr(session, 'PYROUTE2_IMPORT_ERROR', 'ImportError: No module named pyroute2')
    result = ended(EndingModule(dict(name='ns1')), parse_names, in_netlink(lambda *args: dict(RESULT)))
    assert netlink == ['pyroute2'] and OpenedNetlink.made == []
    assert result['failed'] is True and result['exception'] == 'ImportError: No module named pyroute2'
    assert 'the Python interpreter %s on the host lacks pyroute2' % sys.executable in result['msg']


def test_bad_arguments_fail_before_pyroute2_is_looked_for(netlink, monkeypatch):
    monkeypatch.setattr(session, 'PYROUTE2_IMPORT_ERROR', 'ImportError: No module named pyroute2')
    result = ended(EndingModule(dict(name='a/b')), parse_names, in_netlink(lambda *args: dict(RESULT)))
    assert result['problems'] == ['the problem'] and netlink == [] and OpenedNetlink.made == []


# --- converge_lab: the host's requirements, then the run in one Netlink


@pytest.fixture
def lab(monkeypatch):
    OpenedNetlink.made = []
    runs = []
    monkeypatch.setattr(lab_runner, 'Netlink', OpenedNetlink)
    monkeypatch.setattr(lab_runner, 'run', lambda *args: runs.append(args) or dict(RESULT, plan={}))
    return runs


def test_the_lab_runs_with_the_resolved_backend_and_its_diff_only_in_diff_mode(lab, monkeypatch):
    monkeypatch.setattr(lab_runner, 'missing_requirements', lambda module, backend: ([], 'nft'))
    module = EndingModule(dict(backend='auto'))
    result = ended(module, lab_runner.lab_arguments, lab_runner.converge_lab, diff_only_in_diff_mode=True)
    assert 'diff' not in result and result['plan'] == {}
    (opened,) = OpenedNetlink.made
    assert lab == [(module, opened, dict(backend='auto'), 'nft')]


def test_missing_requirements_fail_naming_them_for_the_role_before_a_socket_is_opened(lab, monkeypatch):
    monkeypatch.setattr(lab_runner, 'missing_requirements', lambda module, backend: (['iproute2', 'pyroute2'], 'nft'))
    result = ended(EndingModule(dict(backend='auto')), lab_runner.lab_arguments, lab_runner.converge_lab)
    assert result['failed'] is True and result['missing_requirements'] == ['iproute2', 'pyroute2']
    assert result['msg'] == ('the host lacks iproute2; the Python interpreter %s on the host lacks pyroute2; install '
                             'them (the role nslab.net.lab does, with lab_install_packages, for the system Python '
                             '/usr/bin/python3, which the module then uses) and run again' % sys.executable)
    assert lab == [] and OpenedNetlink.made == []


def test_a_backend_that_cannot_be_detected_fails_with_its_message_alone(lab, monkeypatch):
    def fail(module, backend):
        raise FirewallError('/usr/sbin/iptables -V failed: boom')

    monkeypatch.setattr(lab_runner, 'missing_requirements', fail)
    result = ended(EndingModule(dict(backend='auto')), lab_runner.lab_arguments, lab_runner.converge_lab)
    assert result == dict(msg='/usr/sbin/iptables -V failed: boom', failed=True)
