# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger of kernel settings: who changed what, and what goes back when the last owner leaves."""

from __future__ import annotations


import json
import os
import stat

import pytest

from ansible_collections.nslab.net.plugins.module_utils._firewall.plan import FirewallTask
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctls import (
    BRIDGE_NF_CALL_IPTABLES, IP_FORWARD, Sysctl, route_localnet)
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import (
    masquerade_task, parse_networks)
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import parse_publish, plan_publish
from ansible_collections.nslab.net.plugins.module_utils._firewall.rules import Ruleset
from ansible_collections.nslab.net.plugins.module_utils._firewall.sysctl_ledger import (
    LedgerError, load_ledger, plan_ledger, save_ledger)

FORWARD = 'net.ipv4.ip_forward'
LOCALNET = 'net.ipv4.conf.br0.route_localnet'
MASQ = 'nslab:masquerade:br0'
MASQ1 = 'nslab:masquerade:br1'
PUB = 'nslab:publish:br0'


def entry(before, value, *owners):
    return {'before': before, 'set': value, 'owners': sorted(owners)}


def present(ledger, current, owners, names=(FORWARD,), value='1'):
    """A present task whose every owner holds each of ``names`` at ``value``."""
    return plan_ledger(ledger, current, owners, [(name, value, owners) for name in names])


def absent(ledger, current, owners):
    return plan_ledger(ledger, current, owners, [])


# --- present


def test_a_change_is_recorded_with_the_value_before_and_the_owners_that_need_it():
    plan = present({}, {FORWARD: '0'}, [MASQ, MASQ1])
    assert plan.writes == [(FORWARD, '1')]
    assert plan.ledger == {FORWARD: entry('0', '1', MASQ, MASQ1)}
    assert plan.released == [] and plan.warnings == []


def test_a_setting_the_host_already_had_is_not_ours():
    plan = present({}, {FORWARD: '1'}, [MASQ])
    assert plan.writes == [] and plan.ledger == {}
    # ... so its removal puts nothing back.
    assert absent(plan.ledger, {FORWARD: '1'}, [MASQ]).writes == []


def test_a_second_owner_joins_the_entry_without_writing():
    ledger = {FORWARD: entry('0', '1', MASQ)}
    plan = present(ledger, {FORWARD: '1'}, [PUB])
    assert plan.writes == []
    assert plan.ledger == {FORWARD: entry('0', '1', MASQ, PUB)}
    assert ledger == {FORWARD: entry('0', '1', MASQ)}  # the input is not modified


def test_a_rerun_changes_nothing():
    ledger = {FORWARD: entry('0', '1', MASQ)}
    plan = present(ledger, {FORWARD: '1'}, [MASQ])
    assert plan.writes == [] and plan.ledger == ledger


def test_a_setting_turned_off_by_hand_is_turned_on_again_and_keeps_its_first_before():
    plan = present({FORWARD: entry('0', '1', MASQ)}, {FORWARD: '0'}, [MASQ])
    assert plan.writes == [(FORWARD, '1')]
    assert plan.ledger == {FORWARD: entry('0', '1', MASQ)}


def test_a_setting_the_kernel_lacks_is_neither_written_nor_recorded():
    plan = present({}, {FORWARD: '0', LOCALNET: None}, [PUB], names=(FORWARD, LOCALNET))
    assert plan.writes == [(FORWARD, '1')] and list(plan.ledger) == [FORWARD]


# --- absent


def test_the_value_goes_back_only_after_the_last_owner():
    ledger = {FORWARD: entry('0', '1', MASQ, PUB)}
    first = absent(ledger, {FORWARD: '1'}, [PUB])
    assert first.writes == [] and first.released == []
    assert first.ledger == {FORWARD: entry('0', '1', MASQ)}
    last = absent(first.ledger, {FORWARD: '1'}, [MASQ])
    assert last.writes == [(FORWARD, '0')]
    assert last.ledger == {} and last.released == [FORWARD] and last.warnings == []


def test_either_owner_may_be_the_last():
    ledger = {FORWARD: entry('0', '1', MASQ, PUB)}
    first = absent(ledger, {FORWARD: '1'}, [MASQ])
    assert absent(first.ledger, {FORWARD: '1'}, [PUB]).writes == [(FORWARD, '0')]


def test_a_multi_network_task_owns_forwarding_through_each_bridge():
    ledger = present({}, {FORWARD: '0'}, [MASQ, MASQ1]).ledger
    one = absent(ledger, {FORWARD: '1'}, [MASQ])
    assert one.writes == [] and one.ledger == {FORWARD: entry('0', '1', MASQ1)}
    assert absent(one.ledger, {FORWARD: '1'}, [MASQ1]).writes == [(FORWARD, '0')]


def test_a_value_changed_since_is_left_alone_with_a_warning():
    plan = absent({FORWARD: entry('0', '1', MASQ)}, {FORWARD: '2'}, [MASQ])
    assert plan.writes == [] and plan.ledger == {} and plan.released == [FORWARD]
    assert len(plan.warnings) == 1
    assert FORWARD in plan.warnings[0] and 'left as it is' in plan.warnings[0]


def test_a_value_already_back_is_dropped_quietly():
    plan = absent({FORWARD: entry('0', '1', MASQ)}, {FORWARD: '0'}, [MASQ])
    assert plan.writes == [] and plan.ledger == {} and plan.warnings == []


def test_a_setting_of_a_deleted_interface_is_dropped():
    ledger = {LOCALNET: entry('0', '1', PUB), FORWARD: entry('0', '1', MASQ)}
    plan = absent(ledger, {LOCALNET: None, FORWARD: '1'}, [PUB])
    assert plan.writes == [] and plan.warnings == []
    assert plan.ledger == {FORWARD: entry('0', '1', MASQ)}
    # Even a run of somebody else drops it: the setting cannot come back.
    assert present(ledger, {LOCALNET: None, FORWARD: '1'}, [MASQ]).ledger == {FORWARD: entry('0', '1', MASQ)}


def test_absent_of_an_owner_that_holds_nothing_changes_nothing():
    ledger = {FORWARD: entry('0', '1', MASQ)}
    plan = absent(ledger, {FORWARD: '1'}, [PUB])
    assert plan.writes == [] and plan.ledger == ledger


def test_an_entry_without_current_value_given_counts_as_gone():
    assert absent({FORWARD: entry('0', '1', MASQ)}, {}, [MASQ]).ledger == {}


# --- present tasks that let go


def test_a_present_task_lets_go_of_what_it_no_longer_holds():
    # route_localnet wanted off (no loopback port left) is listed without holders.
    ledger = {LOCALNET: entry('0', '1', PUB), FORWARD: entry('0', '1', PUB)}
    plan = plan_ledger(ledger, {LOCALNET: '1', FORWARD: '1'}, [PUB],
                       [(FORWARD, 1, [PUB]), (LOCALNET, 0, [])])
    assert plan.writes == [(LOCALNET, '0')] and plan.released == [LOCALNET]
    assert plan.ledger == {FORWARD: entry('0', '1', PUB)}


def test_a_setting_without_holders_is_never_written_when_it_is_not_ours():
    # The host had route_localnet on before: a bridge without loopback ports leaves it so.
    plan = plan_ledger({}, {LOCALNET: '1'}, [PUB], [(LOCALNET, 0, [])])
    assert plan.writes == [] and plan.ledger == {}


def test_only_the_holding_owners_are_recorded():
    plan = plan_ledger({}, {FORWARD: '0', 'net.bridge.bridge-nf-call-iptables': '0'}, [MASQ, MASQ1],
                       [(FORWARD, 1, [MASQ, MASQ1]), ('net.bridge.bridge-nf-call-iptables', 1, [MASQ1])])
    assert plan.ledger['net.bridge.bridge-nf-call-iptables'] == entry('0', '1', MASQ1)
    # icc turned back on for br1: br1 lets bridge netfilter go, keeps forwarding.
    again = plan_ledger(plan.ledger, {FORWARD: '1', 'net.bridge.bridge-nf-call-iptables': '1'}, [MASQ1],
                        [(FORWARD, 1, [MASQ1])])
    assert again.writes == [('net.bridge.bridge-nf-call-iptables', '0')]
    assert again.ledger == {FORWARD: entry('0', '1', MASQ, MASQ1)}


# --- check mode: the plan is the whole prediction


def test_check_mode_prediction_is_the_plan_and_leaves_the_ledger_alone(tmp_path):
    path = str(tmp_path / 'nslab' / 'sysctls.json')
    ledger = {FORWARD: entry('0', '1', MASQ)}
    save_ledger(ledger, path)
    plan = absent(load_ledger(path), {FORWARD: '1'}, [MASQ])
    # A check run reports plan.writes and stops there: nothing was written.
    assert plan.writes == [(FORWARD, '0')]
    assert load_ledger(path) == ledger
    # The real run then does exactly that.
    assert absent(load_ledger(path), {FORWARD: '1'}, [MASQ]).writes == plan.writes


# --- the tasks' holders


def test_masquerade_holders():
    networks = parse_networks([dict(bridge='br0', subnet='10.0.0.0/24'),
                               dict(bridge='br1', subnet='10.1.0.0/24', icc=False)], 'present')
    task = masquerade_task(networks, 'present')
    assert task.wanted_sysctls() == [(FORWARD, 1, [MASQ, MASQ1]),
                                     (BRIDGE_NF_CALL_IPTABLES.name, 1, [MASQ1])]
    assert masquerade_task(networks, 'absent').wanted_sysctls() == []


def test_publish_holders():
    current = Ruleset()
    loopback = plan_publish(parse_publish([dict(bridge='br0', destination='10.0.0.1', ports=['8000:80'])],
                                          'present'), 'present', {'br0': ['10.0.0.0/24']}, current, False)
    assert loopback.wanted_sysctls() == [(FORWARD, 1, [PUB]), (LOCALNET, 1, [PUB])]
    remote = plan_publish(parse_publish([dict(bridge='br0', destination='10.0.0.1', ports=['198.51.100.2:80:80'])],
                                        'present'), 'present', {'br0': ['10.0.0.0/24']}, current, False)
    assert remote.wanted_sysctls() == [(FORWARD, 1, [PUB]), (LOCALNET, 0, [])]
    gone = plan_publish(parse_publish([dict(bridge='br0')], 'absent'), 'absent', {'br0': ['10.0.0.0/24']},
                        current, False)
    assert gone.wanted_sysctls() == [(LOCALNET, 0, [])]


def test_a_setting_without_named_holders_is_held_by_every_owner():
    task = FirewallTask(owners=[MASQ, MASQ1], sysctls=[(IP_FORWARD, 1)])
    assert task.wanted_sysctls() == [(FORWARD, 1, [MASQ, MASQ1])]


def test_names_round_trip_with_dotted_interfaces():
    setting = route_localnet('br.100')
    assert setting.name == 'net.ipv4.conf.br/100.route_localnet'
    assert Sysctl.from_name(setting.name) == setting
    assert Sysctl.from_name(FORWARD) == IP_FORWARD


# --- the file


def test_the_file_is_written_atomically_with_its_modes_and_removed_when_empty(tmp_path):
    directory = tmp_path / 'nslab'
    path = str(directory / 'sysctls.json')
    assert load_ledger(path) == {}
    ledger = {FORWARD: entry('0', '1', MASQ)}
    old_umask = os.umask(0o077)
    try:
        save_ledger(ledger, path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(str(directory)) == ['sysctls.json']  # no temporary file left
    with open(path, encoding='utf-8') as handle:
        assert json.load(handle) == ledger
    assert load_ledger(path) == ledger
    save_ledger({}, path)
    assert not directory.exists()


@pytest.mark.parametrize('text', [
    'not json',
    '[]',
    '{"net.ipv4.ip_forward": {"before": "0", "set": "1"}}',
    '{"net.ipv4.ip_forward": {"before": 0, "set": "1", "owners": []}}',
    '{"net.ipv4.ip_forward": {"before": "0", "set": "1", "owners": "nslab:x"}}',
    '{"kernel.panic": {"before": "0", "set": "1", "owners": []}}',
    '{"net.//.//.etc.shadow": {"before": "0", "set": "1", "owners": []}}',
])
def test_a_damaged_file_is_an_error_naming_it(tmp_path, text):
    path = tmp_path / 'sysctls.json'
    path.write_text(text, encoding='utf-8')
    with pytest.raises(LedgerError, match='sysctls.json is not a ledger'):
        load_ledger(str(path))
