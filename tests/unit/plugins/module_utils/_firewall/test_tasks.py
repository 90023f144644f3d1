# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two firewall tasks: their arguments parsed into a spec, the spec converged.

Converging runs the real flow (run_firewall) on recorded iptables output (fixtures/iptables-nft)
with kernel settings and the ledger below tmp_path; port publishing reads its bridges through a
FakeNetlink and deletes conntrack flows through a recorder.
"""

from __future__ import annotations


import json

import pytest

from adapter_fakes import RESTORE, SAVE, FakeNetlink, isolate_firewall, nft_module, recorded

from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._firewall import publish_task as publish_flow
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade_task import converge_masquerade, masquerade_spec
from ansible_collections.nslab.net.plugins.module_utils._firewall.ports import PublishedPort
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish_task import bridge_subnets, converge_publish, publish_spec
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Link, NamespaceView

FORWARD = 'net.ipv4.ip_forward'
LOCALNET = 'net.ipv4.conf.br-front.route_localnet'
WEB = PublishedPort('tcp', None, 8080, '10.10.0.2', 80)
TWO_NETWORKS_HOST = NamespaceView(None, links=[
    Link('lo', 1, up=True, mtu=65536, addresses=['127.0.0.1/8']),
    Link('eth0', 2, up=True, addresses=['198.51.100.2/24']),
    Link('br-front', 3, kind='bridge', up=True, addresses=['10.10.0.1/24'], stp=False),
    Link('br-back', 4, kind='bridge', up=True, addresses=['10.20.0.1/24'], stp=False),
    Link('veth-web', 5, kind='veth', up=True, master='br-front', hairpin=False),
])


def masquerade_params(**params):
    base = dict(bridge=None, subnet=None, out_interface=None, icc=True, masquerade=True, networks=None,
                backend='auto', state='present')
    return dict(base, **params)


def publish_params(**params):
    return dict(dict(bridge=None, destination=None, ports=[], publish=None, exclusive=False, backend='auto',
                     state='present'), **params)


@pytest.fixture
def two_networks(tmp_path, monkeypatch):
    """The host the role left with playbooks/labs/two_networks.yml: its settings and ledger."""
    host = isolate_firewall(tmp_path, monkeypatch)
    host.set_sysctl(FORWARD, 1)
    host.set_sysctl(LOCALNET, 1)
    host.save_ledger(json.loads(recorded('iptables-nft/ledger-two-networks.json.txt')))
    return host


@pytest.fixture
def flows(monkeypatch):
    deleted = []
    monkeypatch.setattr(publish_flow, 'delete_flows', lambda mappings: deleted.append(list(mappings)))
    return deleted


# --- nat_masquerade


def test_masquerade_spec_lists_every_bad_value():
    params = masquerade_params(networks=[dict(bridge='br0+', subnet='10.0.0.0/24'),
                                         dict(bridge='br1', subnet='10.1.0.1/24', out_interface='br1'),
                                         dict(bridge='br1', subnet='fd00::/64'),
                                         dict(bridge='br2')])
    with pytest.raises(TaskFailed) as failed:
        masquerade_spec(params)
    assert failed.value.fields['problems'] == [
        "bridge: interface name 'br0+' ends in '+', which iptables reads as a wildcard",
        'bridge br1: out_interface must be another interface than the bridge',
        'bridge br1: subnet 10.1.0.1/24 has host bits set; did you mean 10.1.0.0/24?',
        'bridge br1: subnet fd00::/64 is IPv6; only IPv4 is supported',
        'bridge br2: subnet is required with state=present',
        'bridge br1 is listed more than once',
    ]
    assert failed.value.msg == '; '.join(failed.value.fields['problems'])


def test_masquerade_spec_takes_one_network_as_top_level_options():
    spec = masquerade_spec(masquerade_params(bridge='br0', subnet='10.0.0.0/24', icc=False, backend='nft'))
    assert spec == dict(networks=[dict(bridge='br0', subnet='10.0.0.0/24', out_interface=None, icc=False,
                                       masquerade=True)], state='present', backend='nft')


def test_masquerade_spec_needs_no_subnet_to_remove():
    assert masquerade_spec(masquerade_params(bridge='br0', state='absent'))['networks'][0]['subnet'] is None


def test_converging_the_lab_networks_again_changes_nothing(two_networks):
    spec = masquerade_spec(masquerade_params(networks=[
        dict(bridge='br-front', subnet='10.10.0.0/24', out_interface='eth0'),
        dict(bridge='br-back', subnet='10.20.0.0/24', out_interface='eth0', masquerade=False)]))
    module = nft_module('iptables-nft/save-two-networks.txt')
    result = converge_masquerade(module, spec)
    assert result['changed'] is False and result['commands'] == []
    assert len(result['rules']) == 9  # five for br-front, four for br-back (no MASQUERADE)
    assert (RESTORE, '--noflush') not in module.argvs()


def test_removing_one_network_keeps_forwarding_for_the_other_owners(two_networks):
    spec = masquerade_spec(masquerade_params(bridge='br-back', state='absent'))
    module = nft_module('iptables-nft/save-two-networks.txt')
    result = converge_masquerade(module, spec)
    sent = module.stdin_of((RESTORE, '--noflush'))[0]
    assert sent.splitlines() == [
        '*filter',
        '-D NSLAB-INBOUND -o br-back -m conntrack --ctstate RELATED,ESTABLISHED -m comment'
        ' --comment nslab:masquerade:br-back -j ACCEPT',
        '-D NSLAB-INBOUND -i br-back -o br-back -m comment --comment nslab:masquerade:br-back -j ACCEPT',
        '-D NSLAB-ISOLATE ! -i br-back -o br-back -m comment --comment nslab:masquerade:br-back -j DROP',
        '-D NSLAB-OUTBOUND -i br-back -o eth0 -m comment --comment nslab:masquerade:br-back -j ACCEPT',
        'COMMIT',
    ]
    assert result['changed'] is True and result['rules'] == []
    assert two_networks.sysctl(FORWARD) == '1'
    assert two_networks.ledger()[FORWARD]['owners'] == ['nslab:masquerade:br-front', 'nslab:publish:br-front']


# --- port_publish: the spec


def test_publish_spec_lists_every_bad_value():
    params = publish_params(publish=[dict(bridge='br0', destination='10.0.0.300', ports=['80:80']),
                                     dict(bridge='br0', destination='10.0.0.2', ports=['80', '8080:80/sctp']),
                                     dict(bridge='br0', destination='10.0.0.3', ports=['8080:81']),
                                     dict(bridge='br1', ports=[])])
    with pytest.raises(TaskFailed) as failed:
        publish_spec(params)
    assert failed.value.fields['problems'] == [
        "bridge br0: destination '10.0.0.300' is not an IPv4 address",
        "bridge br0, destination 10.0.0.2: port '80' is not [host_ip:]host_port[-end]:container_port[-end][/tcp|udp]"
        " (IPv4 only, host port required)",
        "bridge br0, destination 10.0.0.2: port '8080:80/sctp': protocol sctp is not tcp or udp",
        'bridge br1: destination is required with state=present unless exclusive is true',
    ]


def test_two_destinations_on_one_host_port_conflict_in_the_spec():
    params = publish_params(publish=[dict(bridge='br0', destination='10.0.0.2', ports=['8080:80']),
                                     dict(bridge='br1', destination='10.1.0.2', ports=['127.0.0.1:8080:81'])])
    with pytest.raises(TaskFailed, match='host port 8080/tcp is published twice'):
        publish_spec(params)


def test_publish_spec_of_top_level_options():
    spec = publish_spec(publish_params(bridge='br-front', destination='10.10.0.2', ports=['8080:80'], backend='nft'))
    assert spec == dict(wanted={'br-front': {'10.10.0.2': [WEB]}}, state='present', exclusive=False, backend='nft')


# --- port_publish: bridges and converging


def test_bridge_subnets_reads_the_host_once_and_names_each_bridge_subnet():
    netlink = FakeNetlink({None: TWO_NETWORKS_HOST})
    assert bridge_subnets(netlink, ['br-back', 'br-front', 'br-gone']) == {
        'br-back': ['10.20.0.0/24'], 'br-front': ['10.10.0.0/24'], 'br-gone': None}
    assert netlink.read_calls == [([None], False)]


def test_a_link_of_another_kind_is_no_bridge_to_publish_on():
    with pytest.raises(TaskFailed, match='^eth0 is a physical link, not a bridge$'):
        bridge_subnets(FakeNetlink({None: TWO_NETWORKS_HOST}), ['eth0'])
    with pytest.raises(TaskFailed, match='^veth-web is a veth link, not a bridge$'):
        bridge_subnets(FakeNetlink({None: TWO_NETWORKS_HOST}), ['veth-web'])


def test_converging_the_lab_ports_again_changes_nothing(two_networks, flows):
    spec = dict(wanted={'br-front': {'10.10.0.2': [WEB]}}, state='present', exclusive=True, backend='auto')
    module = nft_module('iptables-nft/save-two-networks.txt')
    result = converge_publish(module, FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
    assert result['changed'] is False and result['commands'] == []
    assert result['sysctls'] == {FORWARD: '1', LOCALNET: '1'}
    assert flows == []


def test_a_port_that_goes_takes_its_flows_along_after_the_rules(two_networks, flows):
    spec = publish_spec(publish_params(bridge='br-front', exclusive=True))
    module = nft_module('iptables-nft/save-two-networks.txt')
    result = converge_publish(module, FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
    assert flows == [[WEB]]
    assert module.argvs()[-1] == (RESTORE, '--noflush')
    assert result['rules'] == []
    assert 'conntrack -D -p tcp --orig-port-dst 8080 --reply-src 10.10.0.2 --reply-port-src 80' in result['commands']
    # route_localnet goes back to what it was; forwarding stays for the masquerading owners.
    assert two_networks.sysctl(LOCALNET) == '0' and two_networks.sysctl(FORWARD) == '1'
    assert LOCALNET not in two_networks.ledger()


def test_a_check_run_lists_the_flows_but_deletes_none(two_networks, flows):
    spec = publish_spec(publish_params(bridge='br-front', exclusive=True))
    module = nft_module('iptables-nft/save-two-networks.txt', check_mode=True)
    result = converge_publish(module, FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
    assert flows == [] and result['changed'] is True
    assert any(command.startswith('conntrack -D') for command in result['commands'])
    assert module.argvs()[-1] == (SAVE,)
    assert two_networks.sysctl(LOCALNET) == '1'


def test_publishing_on_a_bridge_that_does_not_exist_fails_a_real_run(two_networks, flows):
    spec = publish_spec(publish_params(bridge='br-gone', destination='10.30.0.2', ports=['9090:90']))
    module = nft_module('iptables-nft/save-two-networks.txt')
    with pytest.raises(TaskFailed) as failed:
        converge_publish(module, FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
    assert failed.value.fields['problems'] == ['bridge br-gone does not exist: create it (nslab.net.bridge) first']
    assert (RESTORE, '--noflush') not in module.argvs()


def test_a_check_run_publishing_on_a_bridge_made_earlier_in_the_play_warns(two_networks, flows):
    spec = publish_spec(publish_params(bridge='br-new', destination='10.30.0.2', ports=['9090:90']))
    module = nft_module('iptables-nft/save-two-networks.txt', check_mode=True)
    result = converge_publish(module, FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
    assert result['changed'] is True
    assert module.warnings == ["bridge br-new does not exist yet; the check run leaves out its hairpin rule,"
                               " which needs the bridge's subnet"]


def test_a_port_another_destination_already_publishes_is_refused(two_networks, flows):
    spec = publish_spec(publish_params(bridge='br-back', destination='10.20.0.3', ports=['8080:5432']))
    module = nft_module('iptables-nft/save-two-networks.txt')
    with pytest.raises(TaskFailed) as failed:
        converge_publish(module, FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
    assert failed.value.fields['problems'] == [
        'host port 8080/tcp is published twice: 8080:5432/tcp -> 10.20.0.3 and 8080:80/tcp -> 10.10.0.2'
        ' by destination 10.10.0.2']
    assert two_networks.sysctl('net.ipv4.ip_forward') == '1'


def test_a_destination_outside_the_bridge_subnets_is_refused(two_networks, flows):
    spec = publish_spec(publish_params(bridge='br-back', destination='10.10.0.9', ports=['9090:90']))
    with pytest.raises(TaskFailed, match=r'bridge br-back: destination 10.10.0.9 is in none of its subnets \(10.20.0.0/24\)'):
        converge_publish(nft_module('iptables-nft/save-two-networks.txt'), FakeNetlink({None: TWO_NETWORKS_HOST}), spec)
