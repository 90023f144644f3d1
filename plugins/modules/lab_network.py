#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: lab_network
short_description: A whole Docker-style lab (bridges, namespaces, veth pairs, NAT, published ports, services) in one task
version_added: 0.1.0
description:
  - Builds, repairs or tears down the lab the role M(nslab.net.lab) describes, in one task and
    one process on the host. It is what the role runs; its options are the role's variables
    without their C(lab_) prefix.
  - Checks the lab as a whole first (on the controller, then again on the host), reads the
    host once, allocates omitted addresses stably (a namespace keeps the address it holds; a
    new one gets the lowest free one), and then runs the work of M(nslab.net.netns),
    M(nslab.net.bridge), M(nslab.net.nat_masquerade), M(nslab.net.veth),
    M(nslab.net.port_publish) and M(nslab.net.netns_service) in turn, each exactly as that
    module would, sharing one netlink socket per namespace.
  - Removal comes first, in the reverse order (services, published ports, veth pairs,
    namespaces, NAT, bridges), for namespaces whose entry says C(state=absent) or for
    everything with I(state=absent).
  - On the controller it also describes the lab (return value RV(summary)) and writes a Mermaid
    diagram of it to I(diagram_path).
author:
  - nslab.net contributors (@nslab)
requirements:
  - pyroute2 >= 0.7.2 on the managed host
  - iproute2 and iptables on the managed host; python-iptables where iptables is the legacy flavour
  - root (CAP_SYS_ADMIN and CAP_NET_ADMIN) on the managed host
attributes:
  action:
    support: full
    description: An action plugin of the same name checks the options and writes the diagram on the controller.
  check_mode:
    support: full
    description: >-
      Reports what a real run would change, changing nothing; later steps take the objects
      earlier steps would create as there.
  diff_mode:
    support: full
    description: Shows, for each step that runs, what it manages before and after.
options:
  name:
    description:
      - Which lab of the host this is. The lab records what it made in
        C(/run/nslab/labs/NAME.json) (in C(/run), as long as what it lists lives) and never
        adopts, changes or deletes a namespace, link or rule it did not make.
    type: str
    default: lab
  state:
    description:
      - C(present) builds the lab, repairs drift and removes what the lab made but no longer
        declares (a namespace dropped from I(namespaces), an old address's published ports, a
        bridge of a network that went); C(absent) removes everything the lab made, whatever the
        other options say.
    type: str
    choices: [present, absent]
    default: present
  networks:
    description:
      - The lab's networks, as the role's C(lab_networks); see the role's documentation. When
        empty, one network from I(bridge), I(subnet), I(gateway), I(uplink), I(masquerade) and I(icc).
    type: list
    elements: dict
    default: []
  bridge:
    description: The bridge of the single network.
    type: str
    default: br0
  subnet:
    description: The IPv4 subnet of the single network.
    type: str
    default: 10.0.0.0/24
  gateway:
    description: The bridge's address; the first usable address of I(subnet) when omitted.
    type: str
  uplink:
    description: The interface traffic leaves by; the interface of the host's IPv4 default route when omitted.
    type: str
  masquerade:
    description: Whether the network's traffic out of I(uplink) is masqueraded.
    type: bool
    default: true
  icc:
    description: Whether namespaces on the network reach each other.
    type: bool
    default: true
  namespaces:
    description:
      - The lab's namespaces, as the role's C(lab_namespaces) (C(name), C(address),
        C(publish), C(networks), C(command), C(chdir), C(state)); see the role's documentation.
    type: list
    elements: dict
    default: []
  backend:
    description: Which iptables flavour the rules go to; C(auto) is the one the host's own C(iptables) uses.
    type: str
    choices: [auto, legacy, nft]
    default: auto
  service_manager:
    description: What keeps each namespace's C(command) running, as M(nslab.net.netns_service)'s I(manager).
    type: str
    choices: [auto, systemd, process]
    default: auto
  kill_processes:
    description: When removing namespaces, kill processes still inside them instead of failing.
    type: bool
    default: false
  diagram_path:
    description:
      - Where the controller writes a Mermaid diagram of the lab (a Markdown file), with
        I(state=present); a relative path is taken from the directory C(ansible-playbook) runs
        in. I(state=absent) removes it. Neither happens in check mode, and neither makes the
        task C(changed) (the diagram is a report, not host state); a failed write is a warning.
    type: path
notes:
  - The task fails before changing anything when the lab is not valid, naming every problem.
  - When the host lacks what the modules need, the task fails before changing anything with
    RV(missing_requirements) listing it; the role installs those and runs the task again.
seealso:
  - module: nslab.net.netns_info
  - module: nslab.net.netns
  - module: nslab.net.port_publish
'''

EXAMPLES = r'''
- name: The seeds' lab
  nslab.net.lab_network:
    subnet: 10.0.0.0/24
    gateway: 10.0.0.254
    namespaces:
      - name: ns1
        publish: ["8000:8000"]
        command: python3 -m http.server 8000
      - name: ns2
    diagram_path: /tmp/lab.md

- name: Tear it down
  nslab.net.lab_network:
    subnet: 10.0.0.0/24
    namespaces: [{name: ns1}, {name: ns2}]
    state: absent
'''

RETURN = r'''
plan:
  description: The lab as planned, with every address allocated, and the module arguments of each step.
  returned: success
  type: dict
host_state:
  description: What the host held before the run, in the form M(nslab.net.netns_info) returns (C(host), C(namespaces)).
  returned: success
  type: dict
steps:
  description: Each step that ran, in order, with whether it changed anything and its commands.
  returned: success
  type: list
  elements: dict
  sample: [{step: netns, changed: true, commands: ["ip netns add ns1"]}]
commands:
  description: The equivalent commands of all changes, in order (planned in check mode).
  returned: always
  type: list
  elements: str
backend:
  description: The iptables flavour the rules went to.
  returned: success
  type: str
  sample: nft
summary:
  description: The lab as the role prints it, from the action plugin (namespaces, published ports and their URLs, text lines).
  returned: success
  type: dict
diagram:
  description: The path of the diagram written on the controller, when one was.
  returned: when I(diagram_path) is set and I(state=present)
  type: str
missing_requirements:
  description: What the host lacks (C(pyroute2), C(python-iptables), C(iproute2), C(iptables)).
  returned: when the host lacks any
  type: list
  elements: str
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_plan import BRIDGE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._firewall.runner import nat_masquerade_task, port_publish_task
from ansible_collections.nslab.net.plugins.module_utils._lab.collision_readers import listening_sockets, nat_ruleset
from ansible_collections.nslab.net.plugins.module_utils._lab.collisions import (
    foreign_published, host_collisions, host_warnings, published_ports)
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import (
    FirewallError, detect_backend, load_iptc)
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import (
    claimed, empty_record, final, ownership_problems, verify)
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import LAB_ARGS, lab_plan, lab_spec, lab_variables
from ansible_collections.nslab.net.plugins.module_utils._lab.record import (
    RecordError, delete_record, load_records, save_record)
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step, describe
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade import NETWORK_ARGS
from ansible_collections.nslab.net.plugins.module_utils._netlink.tasks import (
    TaskFailed, bridge_task, netns_task, run_netlink, veth_task)
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import PYROUTE2_IMPORT_ERROR, Netlink
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_plan import NETNS_ARGS
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish import PUBLISH_ARGS
from ansible_collections.nslab.net.plugins.module_utils._services.tasks import netns_service_task
from ansible_collections.nslab.net.plugins.module_utils._services.plan import SERVICE_ARGS
from ansible_collections.nslab.net.plugins.module_utils._services.processes import service_pids
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import InvalidInput
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_plan import PAIR_ARGS

# How long a teardown waits for the kernel to destroy the host ends of the veth pairs of the
# namespaces it deleted (it does so asynchronously, all of them in one batch).
VETH_GONE_SECONDS = 10.0

#: step name -> (module arguments, the list argument the plan fills, the work)
STEPS = {
    'netns': (NETNS_ARGS, 'name', netns_task),
    'bridge': (BRIDGE_ARGS, 'bridges', bridge_task),
    'nat_masquerade': (NETWORK_ARGS, 'networks', lambda module, netlink, params: nat_masquerade_task(module, params)),
    'veth': (PAIR_ARGS, 'pairs', veth_task),
    'port_publish': (PUBLISH_ARGS, 'publish', port_publish_task),
    'netns_service': (SERVICE_ARGS, 'services', lambda module, netlink, params: netns_service_task(module, params)),
}
#: (step, key of the plan) in the order they run: removal first, services before their
#: namespaces, bridges last; building with the guarding rules before any namespace is plugged in.
#: ``links`` are host ends left behind by namespaces deleted by hand; they go first, while
#: whatever keeps their namespace alive (the lab's service) still does.
REMOVE_ORDER = (('links', 'links'), ('netns_service', 'services'), ('port_publish', 'publish'), ('veth', 'pairs'),
                ('netns', 'netns'), ('nat_masquerade', 'masquerade'), ('bridge', 'bridges'))
BUILD_ORDER = (('netns', 'netns'), ('bridge', 'bridges'), ('nat_masquerade', 'masquerade'),
               ('veth', 'pairs'), ('port_publish', 'publish'), ('netns_service', 'services'))


def missing_requirements(module, backend):
    """What the host lacks, and the backend resolved (None where iptables is missing)."""
    missing = []
    if PYROUTE2_IMPORT_ERROR:
        missing.append('pyroute2')
    if not module.get_bin_path('ip'):
        missing.append('iproute2')
    if not module.get_bin_path('iptables'):
        return missing + ['iptables'], None
    if backend == 'auto':
        backend = detect_backend(module)
    if backend == 'legacy' and load_iptc() is None:
        missing.append('python-iptables')
    return missing, backend


def step_arguments(step, items, state, params, backend):
    """The step's module arguments, validated against that module's own argument spec."""
    args, list_key, unused = STEPS[step]
    raw = {list_key: items, 'state': state}
    if step in ('nat_masquerade', 'port_publish'):
        raw['backend'] = backend
    if step == 'port_publish' and state == 'present':
        # The lab owns its bridges: a destination it no longer lists there is unpublished.
        raw['exclusive'] = True
    elif step == 'netns_service':
        raw['manager'] = params['service_manager']
    elif step == 'netns' and state == 'absent':
        raw['kill_processes'] = params['kill_processes']
    validator_args = dict((key, value) for key, value in args.items() if key != 'argument_spec')
    result = ArgumentSpecValidator(args['argument_spec'], **validator_args).validate(raw)
    if result.error_messages:
        raise TaskFailed('%s: the planned arguments are not valid (a bug): %s'
                         % (step, '; '.join(result.error_messages)), arguments=raw)
    return result.validated_parameters


def read_host(netlink, state):
    """The host and every namespace in /run/netns, as netns_info returns them.

    A teardown needs no namespace's addresses (it allocates none): only the host is read.
    """
    names = named_namespaces.listed() if state == 'present' else []
    views = netlink.read_views([None] + names)
    return dict(host=describe(views[None]), namespaces=dict((name, describe(views[name])) for name in names))


def wait_for_veth_ends(module, netlink, names):
    """Wait until the host ends in ``names`` are gone with their namespaces; warn if not."""
    deadline = time.monotonic() + VETH_GONE_SECONDS
    while True:
        netlink.forget_views()
        left = [name for name in names if netlink.read_views([None], links_only=True)[None].link(name)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if left:
        module.warn('the kernel has not yet removed %s, the host ends of deleted namespaces'
                    % ', '.join(left))


def stale_links_task(module, netlink, names):
    """Delete the lab's host ends whose namespace was deleted by hand while a process kept it
    alive: their peers are in a namespace no name reaches, so no pair check can apply."""
    def plan(views, nsids):
        return [Step('delete_link', None, name) for name in names if views[None].link(name)], []

    def report(views):
        return [name for name in names if views[None].link(name)]

    return run_netlink(netlink, module.check_mode, 'links', [None], plan, report, links_only=True)


def foreign_processes(plan, kill_processes):
    """Problems for processes in namespaces the run deletes that are not the lab's own
    services (those are stopped first), and the pids of those services."""
    doomed = plan['remove']['netns']
    if not doomed:
        return [], set()
    inside = named_namespaces.processes_in(doomed)
    services = service_pids([service['name'] for service in plan['remove']['services']])
    ours = set(pid for pids in services.values() for pid in pids)
    problems = []
    for netns in doomed:
        others = sorted((pid, command) for pid, command in inside.get(netns, {}).items() if pid not in ours)
        if others and not kill_processes:
            problems.append('namespace %s still has processes the lab did not start: %s; stop them first or set '
                            'kill_processes: true (lab_kill_processes)'
                            % (netns, ', '.join('%d (%s)' % item for item in others)))
    return problems, ours


def collisions(module, spec, host_state, owned, records, backend):
    """What the lab would collide with on the host (see :mod:`host_collisions`)."""
    if spec['state'] != 'present':
        return []
    for warning in host_warnings(spec, host_state):
        module.warn(warning)
    other_labs = dict((bridge, name) for name, record in records.items() if name != spec['name']
                      for bridge in record.get('bridges') or [])
    lab_bridges = set(owned.bridges) | set(network['bridge'] for network in spec['networks'])
    try:
        foreign = foreign_published(nat_ruleset(module, backend), own_bridges=lab_bridges)
    except FirewallError as exc:
        raise TaskFailed(str(exc), changed=False)
    return host_collisions(spec, host_state, owned_bridges=owned.bridges, other_labs=other_labs,
                           listening=listening_sockets(ports=published_ports(spec)), foreign=foreign)


def preflight(module, netlink, spec, params, backend):
    """Read the host and the lab's record, plan, and find every reason to refuse, before any change."""
    lab = spec['name']
    try:
        records = load_records()
    except RecordError as exc:
        raise TaskFailed(str(exc), changed=False)
    record = records.get(lab) or empty_record()
    names = set(record.get('namespaces') or {}) | set(ns['name'] for ns in spec['namespaces'])
    inodes = named_namespaces.inodes(sorted(names))
    owned = verify(lab, record, inodes)
    host_state = read_host(netlink, spec['state'])
    try:
        plan = lab_plan(spec, host_state, owned)
    except InvalidInput as exc:
        raise TaskFailed('the lab is not valid: %s' % '; '.join(exc.problems), problems=exc.problems, changed=False)
    host_links = dict((link['name'], link['kind']) for link in host_state['host']['links'])
    problems = collisions(module, spec, host_state, owned, records, backend)
    problems += ownership_problems(lab, plan, owned, records, inodes, host_links)
    more, spared = foreign_processes(plan, params['kill_processes'])
    problems += more
    if problems:
        raise TaskFailed('the lab cannot be %s, nothing was changed: %s'
                         % ('torn down' if spec['state'] == 'absent' else 'built as declared', '; '.join(problems)),
                         problems=problems, changed=False)
    for warning in owned.warnings:
        module.warn(warning)
    return owned, host_state, plan, spared


def run(module, netlink, params, backend):
    try:
        spec = lab_spec(lab_variables(params))
    except InvalidInput as exc:
        raise TaskFailed('the lab is not valid: %s' % '; '.join(exc.problems), problems=exc.problems, changed=False)
    owned, host_state, plan, spared = preflight(module, netlink, spec, params, backend)
    remove = plan['remove']
    steps = dict(STEPS, netns=(NETNS_ARGS, 'name', lambda m, n, p: netns_task(m, n, p, spared=spared)))
    queue = [(step, 'absent', remove[key]) for step, key in REMOVE_ORDER]
    queue += [(step, 'present', plan[key]) for step, key in BUILD_ORDER]
    result = dict(changed=False, commands=[], steps=[], diff=dict(before={}, after={}))
    if not module.check_mode:
        _save(spec['name'], claimed(owned, plan))
    # A namespace's end of a pair dies with it and takes the host end along: deleting the
    # pair first would cost one unregistration (an RCU grace period) per link, where the
    # kernel's namespace cleanup does them all in one batch.
    waiting = False
    for step, state, items in queue:
        if waiting and state == 'present':
            # Before anything is built that could take their names; the kernel has been
            # destroying them while the NAT rules and bridges went.
            wait_for_veth_ends(module, netlink, remove['dying'])
            waiting = False
        if not items:
            continue
        label = step if state == 'present' else '%s (remove)' % step
        try:
            if step == 'links':
                done = stale_links_task(module, netlink, items)
            else:
                done = steps[step][2](module, netlink, step_arguments(step, items, state, params, backend))
        except TaskFailed as exc:
            changed = result['changed'] or bool(exc.fields.get('changed'))
            fields = dict(exc.fields, changed=changed, failed_step=label, steps=result['steps'],
                          commands=result['commands'] + exc.fields.get('commands', []))
            raise TaskFailed('%s: %s' % (label, exc.msg), **fields)
        result['changed'] = result['changed'] or done['changed']
        result['commands'] += done['commands']
        result['steps'].append(dict(step=label, changed=done['changed'], commands=done['commands']))
        result['diff']['before'][label] = done['diff']['before']
        result['diff']['after'][label] = done['diff']['after']
        waiting = waiting or (step == 'netns' and state == 'absent' and bool(remove['dying']) and not module.check_mode)
    if waiting:
        wait_for_veth_ends(module, netlink, remove['dying'])
    if not module.check_mode:
        if spec['state'] == 'absent':
            _forget(spec['name'])
        else:
            _save(spec['name'], final(plan, named_namespaces.inodes(plan['netns'])))
    result.update(plan=plan, host_state=host_state, backend=backend)
    return result


def _save(lab, record):
    try:
        save_record(lab, record)
    except RecordError as exc:
        raise TaskFailed(str(exc))


def _forget(lab):
    try:
        delete_record(lab)
    except RecordError as exc:
        raise TaskFailed(str(exc), changed=True)


def main():
    module = AnsibleModule(supports_check_mode=True, **LAB_ARGS)
    try:
        missing, backend = missing_requirements(module, module.params['backend'])
    except FirewallError as exc:
        module.fail_json(msg=str(exc))
    if missing:
        module.fail_json(msg='the host lacks %s; install them (the role nslab.net.lab does, with '
                             'lab_install_packages) and run again' % ', '.join(missing),
                         missing_requirements=missing)
    try:
        with Netlink() as netlink:
            result = run(module, netlink, module.params, backend)
    except TaskFailed as exc:
        module.fail_json(msg=exc.msg, **exc.fields)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
