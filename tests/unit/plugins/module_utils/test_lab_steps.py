# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's steps are what each module would take, and the parse-once path is exact.

lab_network no longer re-validates each step against the module's argument spec at run time
(the plan comes from a lab checked as a whole); these tests hold every step of the plans of
representative labs to the modules' own specs instead, and check that the publishing spec the
runner builds from the parsed ports equals what port_publish would parse from the arguments.
"""

from __future__ import (absolute_import, division, print_function)
from __future__ import annotations

__metaclass__ = type

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import MASQUERADE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import PUBLISH_ARGS
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish_task import publish_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import Owned
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan, lab_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.runner import (
    BUILD_ORDER, REMOVE_ORDER, published_spec, step_arguments)
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import BRIDGE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import NETNS_ARGS
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import PAIR_ARGS
from ansible_collections.nslab.net.plugins.module_utils._services.plan import SERVICE_ARGS

MODULE_ARGS = dict(netns=NETNS_ARGS, bridge=BRIDGE_ARGS, nat_masquerade=MASQUERADE_ARGS, veth=PAIR_ARGS,
                   port_publish=PUBLISH_ARGS, netns_service=SERVICE_ARGS)
PARAMS = dict(service_manager='auto', kill_processes=True)
EMPTY_HOST = {'host': {'links': [], 'default_routes': {'4': dict(gateway='198.51.100.1', interface='eth0')}},
              'namespaces': {}}
DEFAULTS = dict(name='lab', state='present', networks=[], bridge='br0', subnet='10.0.0.0/24', gateway=None, uplink=None,
                masquerade=True, icc=True, namespaces=[])
LABS = {
    'seeds': dict(gateway='10.0.0.254', namespaces=[
        dict(name='ns1', address='10.0.0.1', publish=['8000:8000'], command='python3 -m http.server 8000'),
        dict(name='ns2')]),
    'ports of every shape': dict(namespaces=[
        dict(name='web', publish=['8080:80', '127.0.0.1:8443:443', '5353:53/udp', '9000-9002:9000-9002', '8080:80'],
             command='sleep 1000', chdir='/tmp'),
        dict(name='db', address='10.0.0.50'), dict(name='gone', state='absent')]),
    'two networks': dict(networks=[
        dict(name='front', bridge='br-front', subnet='10.1.0.0/24'),
        dict(name='back', bridge='br-back', subnet='10.2.0.0/24', masquerade=False, icc=False, uplink='eth1')],
        namespaces=[dict(name='api', networks=[dict(network='front', publish=['8000:8000']), 'back']),
                    dict(name='db', networks=['back'])]),
}
# What a lab that built "seeds" and then lost it from its variables owns: everything goes.
OWNED = Owned({'ns1': {'links': [dict(host='ns1-eth0', peer='eth0')], 'service': True},
               'old': {'links': [dict(host='old-eth0', peer='eth0')]}}, [], ['br0', 'br-old'], [])


def plans():
    for name, variables in LABS.items():
        spec = lab_spec(dict(DEFAULTS, **variables))
        yield name, lab_plan(spec, EMPTY_HOST, OWNED)
        yield name + ', torn down', lab_plan(dict(spec, state='absent'), EMPTY_HOST, OWNED)


@pytest.mark.parametrize('name,plan', list(plans()), ids=lambda value: value if isinstance(value, str) else '')
def test_every_step_of_a_plan_is_valid_for_its_module(name, plan):
    steps = [(step, 'absent', plan['remove'][key]) for step, key in REMOVE_ORDER if step != 'links']
    steps += [(step, 'present', plan[key]) for step, key in BUILD_ORDER]
    checked = 0
    for step, state, items in steps:
        if not items:
            continue
        args = MODULE_ARGS[step]
        validator = ArgumentSpecValidator(args['argument_spec'], **dict(
            (key, value) for key, value in args.items() if key != 'argument_spec'))
        result = validator.validate(step_arguments(step, items, state, PARAMS, 'nft'))
        assert not result.error_messages, (name, step, state, result.error_messages)
        checked += 1
    assert checked >= 3, name  # positive control: the plans do have steps


@pytest.mark.parametrize('name', list(LABS))
def test_the_publishing_spec_from_parsed_ports_is_what_port_publish_parses(name):
    spec = lab_spec(dict(DEFAULTS, **LABS[name]))
    plan = lab_plan(spec, EMPTY_HOST)
    from_arguments = publish_spec(step_arguments('port_publish', plan['publish'], 'present', PARAMS, 'nft'))
    assert published_spec(plan, 'nft') == from_arguments
    assert any(mappings for per_bridge in from_arguments['wanted'].values() for mappings in per_bridge.values())
