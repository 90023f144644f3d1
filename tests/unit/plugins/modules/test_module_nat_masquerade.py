# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.nat_masquerade's main(): arguments -> masquerade_spec -> converge_masquerade -> result."""


import pytest

from module_harness import Recorder, run_module

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.modules import nat_masquerade


@pytest.fixture
def converge(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(nat_masquerade, 'converge_masquerade', recorder)
    return recorder


@pytest.mark.parametrize('check_mode', [False, True])
def test_main_converges_the_parsed_spec_and_returns_its_result(converge, check_mode):
    result = run_module(nat_masquerade.main, dict(bridge='br0', subnet='10.0.0.0/24', icc=False), check_mode)
    assert result == dict(changed=True, commands=['the command'], failed=False)
    (module, spec), = converge.calls
    assert module.check_mode is check_mode
    assert spec == dict(networks=[dict(bridge='br0', subnet='10.0.0.0/24', out_interface=None, icc=False,
                                       masquerade=True)], state='present', backend='auto')


def test_bad_networks_fail_with_every_problem_and_converge_nothing(converge):
    result = run_module(nat_masquerade.main, dict(networks=[
        dict(bridge='br0', subnet='10.0.0.1/24'), dict(bridge='br1+', subnet='10.1.0.0/24'),
        dict(bridge='br2', subnet='10.2.0.0/24', out_interface='br2')]))
    assert result['failed'] is True
    assert result['problems'] == [
        'bridge br0: subnet 10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?',
        "bridge: interface name 'br1+' ends in '+', which iptables reads as a wildcard",
        'bridge br2: out_interface must be another interface than the bridge',
    ]
    assert result['msg'] == '; '.join(result['problems'])
    assert converge.calls == []


@pytest.mark.parametrize('args, message', [
    (dict(subnet='10.0.0.0/24'), 'one of the following is required: bridge, networks'),
    (dict(bridge='br0', networks=[dict(bridge='br1')]), 'parameters are mutually exclusive: networks|bridge'),
    (dict(bridge='br0', backend='iptables'), 'value of backend must be one of: auto, legacy, nft, got: iptables'),
])
def test_arguments_against_the_spec_fail_before_parsing(converge, args, message):
    result = run_module(nat_masquerade.main, args)
    assert result['failed'] is True and message in result['msg']
    assert converge.calls == []


def test_a_failing_converge_fails_the_module_with_its_fields(converge):
    converge.error = TaskFailed('iptables-nft-save failed: oops', backend='nft')
    result = run_module(nat_masquerade.main, dict(bridge='br0', subnet='10.0.0.0/24'))
    assert result == dict(msg='iptables-nft-save failed: oops', backend='nft', failed=True)
