# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_firewall end to end: lock, read, plan, apply, kernel settings and ledger, result.

The iptables commands answer with recorded output (fixtures/iptables-nft); /proc/sys, the
sysctl ledger and the xtables lock are files below tmp_path (adapter_fakes.isolate_firewall).
"""

from __future__ import annotations


import errno
import functools
import os

import pytest

from adapter_fakes import IPTABLES, RESTORE, SAVE, answer, isolate_firewall, nft_module, recorded

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._firewall import runner
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import XtablesLock
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import masquerade_task, parse_networks
from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import FirewallTask, owned_rules, plan_firewall
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import parse_save
from ansible_collections.nslab.net.plugins.module_utils._firewall.runner import run_firewall

MASQ = 'nslab:masquerade:br0'
FORWARD = 'net.ipv4.ip_forward'
BRIDGE_NF = 'net.bridge.bridge-nf-call-iptables'
LEDGER_AFTER_BR0 = {FORWARD: {'before': '0', 'set': '1', 'owners': [MASQ]}}
OWNED_AFTER_BR0 = owned_rules(parse_save(recorded('iptables-nft/save-masquerade-br0.txt')), [MASQ])


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host with forwarding off and no ledger, as the fresh sandbox world was."""
    host = isolate_firewall(tmp_path, monkeypatch)
    host.set_sysctl(FORWARD, 0)
    return host


def masquerade(state='present', **network):
    network = dict(dict(bridge='br0', subnet='10.0.0.0/24' if state == 'present' else None), **network)
    task = masquerade_task(parse_networks([network], state), state)
    return lambda current: task


def built_host(host):
    """The host after the first recorded run: rules, forwarding on, the ledger."""
    host.set_sysctl(FORWARD, 1)
    host.save_ledger(LEDGER_AFTER_BR0)
    return nft_module('iptables-nft/save-masquerade-br0.txt')


def test_a_real_run_applies_the_rules_then_turns_forwarding_on_and_records_it(host):
    module = nft_module('iptables-nft/save-user-rule.txt')
    forwarding_when_applied = []

    def restore(argv, kwargs):
        forwarding_when_applied.append(host.sysctl(FORWARD))
        return 0, '', ''

    module.commands[(RESTORE, '--noflush')] = restore
    result = run_firewall(module, 'auto', masquerade())
    assert module.argvs() == [(IPTABLES, '-V'), (SAVE,), (RESTORE, '--noflush')]
    assert module.stdin_of((RESTORE, '--noflush')) == [recorded('iptables-nft/restore-masquerade-br0.txt')]
    # The rules that guard forwarding are in place before it is turned on.
    assert forwarding_when_applied == ['0']
    assert host.sysctl(FORWARD) == '1'
    assert host.ledger() == LEDGER_AFTER_BR0
    assert result['changed'] is True and result['backend'] == 'nft'
    assert result['diff'] == dict(before=dict(rules=[], sysctls={FORWARD: '0'}),
                                  after=dict(rules=OWNED_AFTER_BR0, sysctls={FORWARD: '1'}))
    assert result['rules'] == OWNED_AFTER_BR0 and result['sysctls'] == {FORWARD: '1'}
    plan = plan_firewall(parse_save(recorded('iptables-nft/save-user-rule.txt')), [MASQ],
                         masquerade()(None).rules)
    assert result['commands'] == plan.commands() + ['sysctl -w net.ipv4.ip_forward=1']
    assert module.warnings == []


def test_check_mode_reports_what_the_real_run_does_and_changes_nothing(host, tmp_path, monkeypatch):
    checked = nft_module('iptables-nft/save-user-rule.txt', check_mode=True)
    predicted = run_firewall(checked, 'auto', masquerade())
    assert checked.argvs() == [(IPTABLES, '-V'), (SAVE,)]
    assert host.sysctl(FORWARD) == '0'
    assert not os.path.exists(host.ledger_path) and not os.path.exists(os.path.dirname(host.ledger_path))
    other = isolate_firewall(tmp_path / 'real', monkeypatch)
    other.set_sysctl(FORWARD, 0)
    assert run_firewall(nft_module('iptables-nft/save-user-rule.txt'), 'auto', masquerade()) == predicted


def test_a_second_run_on_the_recorded_result_changes_nothing(host):
    module = built_host(host)
    result = run_firewall(module, 'nft', masquerade())
    assert module.argvs() == [(SAVE,)]  # an explicit backend is not detected
    assert result['changed'] is False and result['commands'] == []
    assert result['diff']['before'] == result['diff']['after'] == dict(rules=OWNED_AFTER_BR0, sysctls={FORWARD: '1'})
    assert host.ledger() == LEDGER_AFTER_BR0


def test_the_last_owner_leaving_removes_the_rules_and_puts_forwarding_back(host):
    module = built_host(host)
    result = run_firewall(module, 'nft', masquerade('absent'))
    assert module.stdin_of((RESTORE, '--noflush')) == [recorded('iptables-nft/restore-masquerade-br0-absent.txt')]
    assert host.sysctl(FORWARD) == '0'
    # No entry left: no file, and no directory either.
    assert not os.path.exists(os.path.dirname(host.ledger_path))
    assert result['changed'] is True
    assert result['diff'] == dict(before=dict(rules=OWNED_AFTER_BR0, sysctls={FORWARD: '1'}),
                                  after=dict(rules=[], sysctls={FORWARD: '0'}))
    assert result['commands'][-1] == 'sysctl -w net.ipv4.ip_forward=0'


def test_a_setting_the_kernel_lacks_fails_with_every_problem_before_any_change(host):
    # icc=false needs br_netfilter, which this host has not loaded (no net/bridge in /proc/sys).
    module = nft_module('iptables-nft/save-user-rule.txt')
    task = masquerade(icc=False)(None)
    task.problems.append('another problem of the task')
    with pytest.raises(TaskFailed) as failed:
        run_firewall(module, 'auto', lambda current: task)
    fields = failed.value.fields
    assert fields['changed'] is False and fields['backend'] == 'nft'
    assert fields['problems'][0] == 'another problem of the task'
    assert 'modprobe br_netfilter' in fields['problems'][1] and len(fields['problems']) == 2
    assert failed.value.msg == '; '.join(fields['problems'])
    assert module.argvs() == [(IPTABLES, '-V'), (SAVE,)]
    assert host.sysctl(FORWARD) == '0' and not os.path.exists(host.ledger_path)


def test_with_br_netfilter_loaded_isolation_holds_bridged_traffic_to_iptables_too(host):
    host.set_sysctl(BRIDGE_NF, 0)
    result = run_firewall(nft_module('iptables-nft/save-user-rule.txt'), 'nft', masquerade(icc=False))
    assert host.sysctl(BRIDGE_NF) == '1' and host.sysctl(FORWARD) == '1'
    assert sorted(host.ledger()) == [BRIDGE_NF, FORWARD]
    assert result['sysctls'] == {FORWARD: '1', BRIDGE_NF: '1'}


def test_a_failed_save_fails_the_task_with_its_message(host):
    module = nft_module('iptables-nft/save-failed.stderr.txt')
    with pytest.raises(TaskFailed) as failed:
        run_firewall(module, 'nft', masquerade())
    assert failed.value.msg == "%s failed: Table `bogus' does not exist" % SAVE
    assert failed.value.fields == dict(backend='nft')
    assert host.sysctl(FORWARD) == '0' and not os.path.exists(host.ledger_path)


def test_a_refused_restore_leaves_forwarding_and_the_ledger_alone(host):
    module = nft_module('iptables-nft/save-user-rule.txt', restore=answer('iptables-nft/restore-failed.stderr.txt'))
    with pytest.raises(TaskFailed, match='Bad rule') as failed:
        run_firewall(module, 'nft', masquerade())
    assert failed.value.fields == dict(backend='nft')
    assert host.sysctl(FORWARD) == '0' and not os.path.exists(host.ledger_path)


def test_a_ledger_that_is_not_one_fails_the_task_before_the_rules_are_read(host):
    os.makedirs(os.path.dirname(host.ledger_path))
    with open(host.ledger_path, 'w', encoding='utf-8') as handle:
        handle.write('{"net.ipv4.ip_forward": "1"}\n')
    module = nft_module('iptables-nft/save-user-rule.txt')
    with pytest.raises(TaskFailed, match='is not a ledger of kernel settings'):
        run_firewall(module, 'auto', masquerade())
    assert module.argvs() == [(IPTABLES, '-V')]
    assert host.sysctl(FORWARD) == '0'


def test_a_setting_that_cannot_be_written_fails_after_its_record_was_kept(host, monkeypatch):
    def refuse(setting, value):
        raise OSError(errno.EROFS, 'Read-only file system')

    monkeypatch.setattr(runner, 'write_sysctl', refuse)
    module = nft_module('iptables-nft/save-user-rule.txt')
    with pytest.raises(TaskFailed) as failed:
        run_firewall(module, 'nft', masquerade())
    assert failed.value.msg == 'could not set net.ipv4.ip_forward to 1: [Errno 30] Read-only file system'
    assert failed.value.fields == dict(changed=True, backend='nft')
    assert (RESTORE, '--noflush') in module.argvs()
    assert host.ledger() == LEDGER_AFTER_BR0


def test_another_writer_holding_the_lock_fails_the_task_before_anything_is_read(host, monkeypatch):
    monkeypatch.setattr(runner, 'XtablesLock', functools.partial(XtablesLock, wait=0))
    module = nft_module('iptables-nft/save-user-rule.txt')
    with XtablesLock():
        with pytest.raises(TaskFailed, match='could not take the xtables lock'):
            run_firewall(module, 'nft', masquerade())
    assert module.calls == []


# --- conntrack flows of a task


FLOW = PublishedPort('tcp', None, 8080, '10.10.0.2', 80)
FLOW_COMMAND = 'conntrack -D -p tcp --orig-port-dst 8080 --reply-src 10.10.0.2 --reply-port-src 80'


def with_flows(current):
    task = masquerade()(current)
    return FirewallTask(owners=task.owners, rules=task.rules, sysctls=task.sysctls, holders=task.holders,
                        flows=[FLOW])


def test_flows_are_deleted_after_the_rules_changed_in_a_real_run(host):
    module = nft_module('iptables-nft/save-user-rule.txt')
    deleted = []
    result = run_firewall(module, 'nft', with_flows,
                          delete_flows=lambda flows: deleted.append((list(flows), len(module.calls))))
    # After the save and the restore: no new flow can start through the rules that went.
    assert deleted == [([FLOW], 2)]
    assert FLOW_COMMAND in result['commands']


def test_flows_are_listed_but_not_deleted_in_check_mode(host):
    module = nft_module('iptables-nft/save-user-rule.txt', check_mode=True)

    def refuse(flows):
        raise AssertionError('check mode deleted flows')

    result = run_firewall(module, 'nft', with_flows, delete_flows=refuse)
    assert FLOW_COMMAND in result['commands']


def test_flows_of_a_task_that_changes_no_rule_are_left_alone(host):
    module = built_host(host)

    def refuse(flows):
        raise AssertionError('flows deleted without a rule change')

    result = run_firewall(module, 'nft', with_flows, delete_flows=refuse)
    assert result['changed'] is False and result['commands'] == []


def test_flows_that_cannot_be_deleted_are_a_warning_not_a_failure(host):
    module = nft_module('iptables-nft/save-user-rule.txt')

    def fail(flows):
        raise OSError(errno.EPERM, 'Operation not permitted')

    result = run_firewall(module, 'nft', with_flows, delete_flows=fail)
    assert result['changed'] is True and host.sysctl(FORWARD) == '1'
    assert len(module.warnings) == 1
    assert module.warnings[0].startswith('could not delete the conntrack flows of the ports that went'
                                         ' ([Errno 1] Operation not permitted)')
