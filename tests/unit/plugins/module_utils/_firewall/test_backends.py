# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nft backend and the backend detection against recorded iptables output (fixtures/iptables-nft).

The module's run_command answers with what iptables 1.8.9 printed in a sandbox world; the
restore inputs are what nslab.net.nat_masquerade sent there, and the saves after them what the
kernel then held, so the planner's simulation is held to the kernel's own answer.
"""

from __future__ import annotations


import os

import pytest

from adapter_fakes import IPTABLES, NFT_BINARIES, RESTORE, SAVE, FakeModule, answer, nft_module, recorded

from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import (
    FirewallError, NftTables, XtablesLock, detect_backend, open_backend)
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import masquerade_task, parse_networks
from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import owned_rules, plan_firewall, simulate_rules
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import parse_save

MASQ = 'nslab:masquerade:br0'
PLAIN_SAVE = '/usr/sbin/iptables-save'
PLAIN_RESTORE = '/usr/sbin/iptables-restore'


def masquerade_br0(state='present'):
    networks = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24' if state == 'present' else None)], state)
    return masquerade_task(networks, state)


def rules_by_chain(ruleset):
    """The rules of every chain that holds any: chains that are only declared, and the order
    in which a save lists chains, are not what a plan changes."""
    return {(table, chain): rules for table in ruleset.rules
            for chain, rules in ruleset.rules[table].items() if rules}


# --- detect_backend


def test_the_nft_flavour_is_detected_from_iptables_version_line():
    module = FakeModule({(IPTABLES, '-V'): answer('iptables-nft/iptables-V.nft.txt')}, NFT_BINARIES)
    assert detect_backend(module) == 'nft'
    assert module.argvs() == [(IPTABLES, '-V')]


def test_the_legacy_flavour_is_detected_from_iptables_version_line():
    module = FakeModule({(IPTABLES, '-V'): answer('iptables-nft/iptables-V.legacy.txt')}, NFT_BINARIES)
    assert detect_backend(module) == 'legacy'


def test_an_iptables_older_than_1_8_which_names_no_backend_is_legacy():
    # Not recorded: iptables before 1.8 prints only its version, e.g. Ubuntu 18.04's 1.6.1.
    module = FakeModule({(IPTABLES, '-V'): (0, 'iptables v1.6.1\n', '')}, NFT_BINARIES)
    assert detect_backend(module) == 'legacy'


def test_without_iptables_detection_fails_and_says_how_to_go_on():
    module = FakeModule({}, {})
    with pytest.raises(FirewallError, match='iptables is not installed.*set backend to legacy or nft'):
        detect_backend(module)
    assert module.calls == []


def test_a_failing_version_command_fails_detection_with_its_message():
    module = FakeModule({(IPTABLES, '-V'): (1, '', 'iptables: cannot open shared object\n')}, NFT_BINARIES)
    with pytest.raises(FirewallError, match='-V failed: iptables: cannot open shared object$'):
        detect_backend(module)


def test_open_backend_gives_the_nft_flavour_its_own_tools():
    tables = open_backend(nft_module('iptables-nft/save-empty.txt'), 'nft')
    assert isinstance(tables, NftTables) and tables.name == 'nft'
    assert (tables.save, tables.restore) == (SAVE, RESTORE)


# --- which tools NftTables uses


def test_the_plain_tool_names_serve_where_they_are_the_nft_flavour():
    module = FakeModule({(PLAIN_SAVE, '-V'): answer('iptables-nft/iptables-save-V.nft.txt'),
                         (PLAIN_RESTORE, '-V'): (0, 'iptables-restore v1.8.9 (nf_tables)\n', '')},
                        {'iptables-save': PLAIN_SAVE, 'iptables-restore': PLAIN_RESTORE})
    tables = NftTables(module)
    assert (tables.save, tables.restore) == (PLAIN_SAVE, PLAIN_RESTORE)


def test_a_plain_save_of_the_legacy_flavour_is_refused():
    module = FakeModule({(PLAIN_SAVE, '-V'): answer('iptables-nft/iptables-save-V.legacy.txt')},
                        {'iptables-save': PLAIN_SAVE})
    with pytest.raises(FirewallError, match='neither iptables-nft-save nor an nf_tables iptables-save is installed'):
        NftTables(module)


# --- read


def test_read_parses_the_recorded_save_of_the_two_networks_lab():
    module = nft_module('iptables-nft/save-two-networks.txt')
    current = NftTables(module).read()
    assert module.argvs() == [(SAVE,)]
    # The user's rule keeps its quotes, unescaped, and stays behind our jump.
    forward = current.chain_rules('filter', 'FORWARD')
    assert [rule.comment for rule in forward] == ['nslab', 'user "quoted" rule']
    assert owned_rules(current, ['nslab:publish:br-front:10.10.0.2']) == [
        '-t filter -A NSLAB-INBOUND -d 10.10.0.2/32 -o br-front -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT'
        ' -m comment --comment nslab:publish:br-front:10.10.0.2 -j ACCEPT',
        '-t nat -A NSLAB-DNAT -p tcp -m tcp --dport 8080 -m comment --comment nslab:publish:br-front:10.10.0.2'
        ' -j DNAT --to-destination 10.10.0.2:80',
    ]
    assert current.chains['nat'] == ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING',
                                     'NSLAB-DNAT', 'NSLAB-DNAT-LOCAL', 'NSLAB-POSTROUTING']


def test_the_rules_the_lab_built_are_the_rules_its_masquerade_task_wants():
    current = NftTables(nft_module('iptables-nft/save-two-networks.txt')).read()
    networks = parse_networks([dict(bridge='br-front', subnet='10.10.0.0/24', out_interface='eth0'),
                               dict(bridge='br-back', subnet='10.20.0.0/24', out_interface='eth0', masquerade=False)],
                              'present')
    task = masquerade_task(networks, 'present')
    assert not plan_firewall(current, task.owners, task.rules)


def test_a_fresh_host_saves_nothing_and_reads_as_no_chains():
    current = NftTables(nft_module('iptables-nft/save-empty.txt')).read()
    assert current.chains == {'filter': [], 'nat': []}


def test_a_failing_save_is_a_firewall_error_with_its_message():
    tables = NftTables(nft_module('iptables-nft/save-failed.stderr.txt'))
    with pytest.raises(FirewallError, match="iptables-nft-save failed: Table `bogus' does not exist$"):
        tables.read()


def test_output_that_is_no_save_is_a_firewall_error_naming_the_line():
    module = nft_module('iptables-nft/save-empty.txt')
    module.commands[(SAVE,)] = (0, '*filter\n:FORWARD ACCEPT [0:0]\n-I FORWARD -j ACCEPT\nCOMMIT\n', '')
    with pytest.raises(FirewallError, match='unexpected line 3 of iptables-save output: -I FORWARD -j ACCEPT'):
        NftTables(module).read()


# --- apply: the input sent, held to what the kernel did with it


def test_apply_sends_one_noflush_restore_with_the_recorded_input():
    module = nft_module('iptables-nft/save-user-rule.txt')
    tables = NftTables(module)
    task = masquerade_br0()
    plan = plan_firewall(tables.read(), task.owners, task.rules)
    tables.apply(plan)
    assert module.argvs() == [(SAVE,), (RESTORE, '--noflush')]
    assert module.calls[1][1] == dict(data=recorded('iptables-nft/restore-masquerade-br0.txt'), binary_data=True)


@pytest.mark.parametrize('before, state, sent, after', [
    ('save-user-rule.txt', 'present', 'restore-masquerade-br0.txt', 'save-masquerade-br0.txt'),
    ('save-masquerade-br0.txt', 'absent', 'restore-masquerade-br0-absent.txt', 'save-masquerade-br0-absent.txt'),
])
def test_the_simulation_of_a_plan_is_what_the_kernel_held_after_it(before, state, sent, after):
    current = parse_save(recorded('iptables-nft/' + before))
    task = masquerade_br0(state)
    plan = plan_firewall(current, task.owners, task.rules)
    assert plan.restore_input() == recorded('iptables-nft/' + sent)
    kernel = parse_save(recorded('iptables-nft/' + after))
    simulated = simulate_rules(current, plan)
    assert rules_by_chain(simulated) == rules_by_chain(kernel)
    assert owned_rules(simulated, [MASQ]) == owned_rules(kernel, [MASQ])
    assert not plan_firewall(kernel, task.owners, task.rules)


def test_a_refused_restore_is_a_firewall_error_with_its_message_and_input():
    module = nft_module('iptables-nft/save-user-rule.txt', restore=answer('iptables-nft/restore-failed.stderr.txt'))
    tables = NftTables(module)
    task = masquerade_br0()
    plan = plan_firewall(tables.read(), task.owners, task.rules)
    with pytest.raises(FirewallError) as failed:
        tables.apply(plan)
    message = str(failed.value)
    assert message.startswith('%s --noflush failed, nothing of the failing table was changed: iptables-nft-restore:'
                              ' line 2 failed: Bad rule (does a matching rule exist in that chain?).' % RESTORE)
    assert message.endswith('input was:\n' + plan.restore_input())


# --- the xtables lock


def test_the_lock_is_the_file_iptables_w_locks(tmp_path, monkeypatch):
    path = tmp_path / 'xtables.lock'
    monkeypatch.setenv('XTABLES_LOCKFILE', str(path))
    with XtablesLock() as lock:
        assert lock.fd is not None and os.path.exists(str(path))
    assert lock.fd is None
    with XtablesLock():
        pass  # released: a second holder gets it at once


def test_a_held_lock_makes_the_next_writer_give_up_at_its_deadline(tmp_path, monkeypatch):
    monkeypatch.setenv('XTABLES_LOCKFILE', str(tmp_path / 'xtables.lock'))
    with XtablesLock():
        with pytest.raises(FirewallError, match='could not take the xtables lock .* within 0 s'):
            with XtablesLock(wait=0):
                pass
