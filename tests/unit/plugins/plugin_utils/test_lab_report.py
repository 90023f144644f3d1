# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's report on the controller: which host addresses it shows, and where its diagram goes."""

from __future__ import annotations

import os

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.nslab.net.plugins.plugin_utils.lab_report import (
    diagram_location, host_addresses, lab_diagram, lab_summary)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE_DEFAULTS = os.path.join(REPO, 'roles', 'lab', 'defaults', 'main.yml')


def link(name, *addresses, kind='veth', master=None):
    """A host link as netns_info returns it."""
    return dict(name=name, kind=kind, up=True, mtu=1500, master=master, hairpin=False, addresses=list(addresses))


def host(*links):
    return {'host': {'links': [link('lo', '127.0.0.1/8', '::1/128', kind=None)] + list(links),
                     'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
            'namespaces': {}}


def plan(bridge, subnet, gateway, namespace, address, uplink='eth0', publish=('8000:8000',)):
    """A lab_plan result with one network and one namespace on it (the fields the report reads)."""
    return dict(
        state='present',
        networks=[dict(name=bridge, bridge=bridge, subnet=subnet, gateway=gateway, uplink=uplink,
                       masquerade=True, icc=True)],
        namespaces=[dict(name=namespace, command=None, networks=[dict(
            network=bridge, bridge=bridge, interface='eth0', host_interface='%s-eth0' % namespace,
            address=address, publish=list(publish))])])


# This machine as a second lab leaves it: lab "one" (br0) built, and lab "two" (br1) with
# its namespace plugged in; Docker's docker0 and a second network card besides the uplink.
LAB_ONE = plan('br0', '10.0.0.0/24', '10.0.0.1', 'ns1', '10.0.0.2')
LAB_TWO = plan('br1', '10.1.0.0/24', '10.1.0.1', 'web', '10.1.0.2')
UPLINK = link('eth0', '198.51.100.2/24', 'fe80::1/64', kind=None)
ALONE = host(UPLINK)
CROWDED = host(UPLINK, link('eth1', '192.0.2.7/24', kind=None),
               link('br0', '10.0.0.1/24', kind='bridge'), link('ns1-eth0', master='br0'),
               link('br1', '10.1.0.1/24', kind='bridge'), link('web-eth0', master='br1'),
               link('docker0', '172.17.0.1/16', kind='bridge'))


def test_host_addresses_leave_out_every_bridge_and_loopback():
    assert host_addresses(CROWDED, {'br1'}) == ['198.51.100.2', '192.0.2.7']
    assert host_addresses(CROWDED, {'br0'}) == ['198.51.100.2', '192.0.2.7']


def test_a_bridge_that_is_the_uplink_keeps_its_addresses():
    info = host(link('eth0', master='lan'), link('lan', '198.51.100.2/24', kind='bridge'),
                link('br1', '10.1.0.1/24', kind='bridge'))
    assert host_addresses(info, {'br1'}, {'lan'}) == ['198.51.100.2']
    assert host_addresses(info, {'br1'}) == []


def test_the_summary_shows_the_uplinks_own_addresses_and_urls_without_other_labs():
    summary = lab_summary(LAB_TWO, CROWDED, 'nft', 'two')
    assert summary['name'] == 'two'
    assert summary['networks'][0]['uplink_addresses'] == ['198.51.100.2']
    assert summary['published'][0]['urls'] == [
        'http://127.0.0.1:8000/', 'http://198.51.100.2:8000/', 'http://192.0.2.7:8000/']


def test_the_diagram_shows_no_object_of_another_lab():
    diagram = lab_diagram(lab_summary(LAB_TWO, CROWDED, 'nft', 'two'), 'h1')
    assert 'up_eth0["eth0 198.51.100.2"]' in diagram
    assert 'br_br1["br1 10.1.0.1/24"]' in diagram and 'ns_web' in diagram
    for other in ('10.0.0.1', '10.0.0.2', 'br0', 'ns1', '172.17.0.1', 'docker0', '192.0.2.7', 'eth1'):
        assert other not in diagram


def test_a_labs_diagram_is_the_same_whatever_else_the_host_holds():
    for lab, name in ((LAB_ONE, 'lab'), (LAB_TWO, 'two')):
        assert (lab_diagram(lab_summary(lab, CROWDED, 'nft', name), 'h1')
                == lab_diagram(lab_summary(lab, ALONE, 'nft', name), 'h1'))


def test_an_uplink_without_ipv4_address_is_drawn_by_its_name():
    diagram = lab_diagram(lab_summary(LAB_ONE, host(link('eth0', 'fe80::1/64', kind=None))), 'h1')
    assert 'up_eth0["eth0"]' in diagram


def test_the_title_names_the_lab_unless_it_is_the_default_one():
    assert lab_diagram(lab_summary(LAB_ONE, ALONE), 'h1').startswith('# Lab on h1\n')
    assert lab_diagram(lab_summary(LAB_ONE, ALONE, name='lab'), 'h1').startswith('# Lab on h1\n')
    assert lab_diagram(lab_summary(LAB_TWO, ALONE, name='two'), 'h1').startswith('# Lab two on h1\n')


def test_a_relative_diagram_path_is_taken_from_the_working_directory():
    assert diagram_location('lab-h1.md', '/home/me/labs') == '/home/me/labs/lab-h1.md'
    assert diagram_location('out/../lab-h1.md', '/home/me/labs') == '/home/me/labs/lab-h1.md'
    assert diagram_location('/srv/diagrams/lab-h1.md', '/home/me/labs') == '/srv/diagrams/lab-h1.md'
    assert diagram_location('~/lab-h1.md', '/home/me/labs') == os.path.expanduser('~/lab-h1.md')


def default_diagram_path(**variables):
    """The role's default lab_diagram_path, rendered as Ansible renders it for a host."""
    loader = DataLoader()
    defaults = loader.load_from_file(ROLE_DEFAULTS, trusted_as_template=True)  # as Ansible loads a role's defaults
    return Templar(loader=loader, variables=dict(defaults, **variables)).template(defaults['lab_diagram_path'])


# What Ansible sets for an inventory file, a directory, a dynamic inventory plugin's file,
# a host list (-i localhost,: the string "None"), and a playbook run by its FQCN.
INVENTORIES = [
    dict(inventory_dir='/home/me/inventories/local', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='/home/me/inventories', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='/home/me/inventories/ec2', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='None', playbook_dir='/home/me/lab/playbooks'),
    dict(inventory_dir='None', playbook_dir='/usr/share/ansible/collections/ansible_collections/nslab/net/playbooks'),
]


def test_the_default_diagram_path_is_in_the_working_directory_whatever_the_inventory():
    for variables in INVENTORIES:
        for name, expected in ((None, 'lab-h1.md'), ('lab', 'lab-h1.md'), ('web.v2', 'web.v2-h1.md')):
            given = dict(variables, inventory_hostname='h1', **({'lab_name': name} if name else {}))
            assert default_diagram_path(**given) == expected, given
            assert diagram_location(expected, '/home/me/work') == '/home/me/work/' + expected


def test_the_role_defaults_keep_the_lab_name_in_the_diagram_file_name():
    with open(ROLE_DEFAULTS, encoding='utf-8') as handle:
        defaults = yaml.safe_load(handle)
    assert 'inventory_dir' not in defaults['lab_diagram_path'] and 'playbook_dir' not in defaults['lab_diagram_path']
    assert 'lab_name' in defaults['lab_diagram_path']
