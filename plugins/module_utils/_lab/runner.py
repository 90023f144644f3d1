# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nslab.net.lab_network's run: check everything, claim, remove, build, record.

The preflight reads the host and the lab's record and finds every reason to refuse before
any change (:func:`preflight`). The run then claims in the record what it may create, runs
each area's converge function on the spec :mod:`step_specs` builds from the plan (removal
first, in :data:`REMOVE_ORDER`, then :data:`BUILD_ORDER`) with one Netlink for all of them,
and records what the lab owns.
"""


import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput, TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.interpreter import missing_text, respawn_with
from ansible_collections.nslab.net.plugins.module_utils._firewall.backends import FirewallError, detect_backend, load_iptc
from ansible_collections.nslab.net.plugins.module_utils._firewall.masquerade_task import converge_masquerade
from ansible_collections.nslab.net.plugins.module_utils._firewall.publish_task import converge_publish
from ansible_collections.nslab.net.plugins.module_utils._lab.collision_readers import listening_sockets, nat_ruleset
from ansible_collections.nslab.net.plugins.module_utils._lab.collisions import (
    foreign_published, host_collisions, host_warnings, published_ports)
from ansible_collections.nslab.net.plugins.module_utils._lab.lock import LabLock, LockTimeout
from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import (
    claimed, empty_record, final, ownership_problems, verify)
from ansible_collections.nslab.net.plugins.module_utils._lab.spec import lab_spec, lab_variables
from ansible_collections.nslab.net.plugins.module_utils._lab.plan import lab_plan
from ansible_collections.nslab.net.plugins.module_utils._lab.step_specs import step_spec
from ansible_collections.nslab.net.plugins.module_utils._lab.record import (
    RecordError, delete_record, load_records, save_record)
from ansible_collections.nslab.net.plugins.module_utils._names.adapter import NamesError, read_host_files, read_name_files
from ansible_collections.nslab.net.plugins.module_utils._names.plan import names_problems, wanted_paths
from ansible_collections.nslab.net.plugins.module_utils._names.task import converge_names
from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._netlink.adapter import PYROUTE2_IMPORT_ERROR, Netlink
from ansible_collections.nslab.net.plugins.module_utils._netlink.model import Step, describe
from ansible_collections.nslab.net.plugins.module_utils._netlink.bridge_task import converge_bridges
from ansible_collections.nslab.net.plugins.module_utils._netlink.netns_task import converge_netns
from ansible_collections.nslab.net.plugins.module_utils._netlink.veth_task import converge_pairs
from ansible_collections.nslab.net.plugins.module_utils._netlink.runner import run_netlink
from ansible_collections.nslab.net.plugins.module_utils._overlay.adapter import read_collisions
from ansible_collections.nslab.net.plugins.module_utils._overlay.plan import overlay_collisions
from ansible_collections.nslab.net.plugins.module_utils._overlay.task import converge_overlay
from ansible_collections.nslab.net.plugins.module_utils._restore.task import converge_restore, restore_problem, restore_status
from ansible_collections.nslab.net.plugins.module_utils._services.processes import service_pids
from ansible_collections.nslab.net.plugins.module_utils._services.tasks import converge_services

# What nslab.net.lab_network runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._lab.schema import LAB_ARGS  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._lab.ownership import Owned
    from ansible_collections.nslab.net.plugins.module_utils._netlink.model import NamespaceView

# How long a teardown waits for the kernel to destroy the host ends of the veth pairs of the
# namespaces it deleted (it does so asynchronously, all of them in one batch).
VETH_GONE_SECONDS = 10.0

#: step name -> the work (each area's converge function), on the spec step_specs builds
STEPS: Dict[str, Callable[..., Dict[str, Any]]] = {
    'netns': converge_netns,
    'bridge': converge_bridges,
    'nat_masquerade': lambda module, netlink, spec: converge_masquerade(module, spec),
    'veth': converge_pairs,
    'port_publish': converge_publish,
    'netns_service': lambda module, netlink, spec: converge_services(module, spec),
    'overlay': lambda module, netlink, spec: converge_overlay(module, spec),
    'names': lambda module, netlink, spec: converge_names(module, spec),
}
#: (step, key of the plan) in the order they run: removal first, services before their
#: namespaces, bridges last; building with the guarding rules before any namespace is plugged in.
#: ``links`` are host ends left behind by namespaces deleted by hand; they go first, while
#: whatever keeps their namespace alive (the lab's service) still does.
REMOVE_ORDER = (('links', 'links'), ('netns_service', 'services'), ('names', 'names'), ('port_publish', 'publish'),
                ('overlay', 'overlay'),
                ('veth', 'pairs'), ('netns', 'netns'), ('nat_masquerade', 'masquerade'), ('bridge', 'bridges'))
#: The overlay after the bridges: its routes take their source address from the gateways. The
#: names before the services: a process sees the files that exist when it starts.
BUILD_ORDER = (('netns', 'netns'), ('bridge', 'bridges'), ('nat_masquerade', 'masquerade'), ('overlay', 'overlay'),
               ('veth', 'pairs'), ('port_publish', 'publish'), ('names', 'names'), ('netns_service', 'services'))


def missing_requirements(module: 'AnsibleModule', backend: str) -> Tuple[List[str], Optional[str]]:
    """What the host lacks, and the backend resolved (None where iptables is missing).

    Where this interpreter lacks a Python package that the system Python has, the module
    runs again under that one instead (and this function does not return).
    """
    missing = []
    if PYROUTE2_IMPORT_ERROR:
        respawn_with('pyroute2')
        missing.append('pyroute2')
    if not module.get_bin_path('ip'):
        missing.append('iproute2')
    if not module.get_bin_path('iptables'):
        return missing + ['iptables'], None
    if backend == 'auto':
        backend = detect_backend(module)
    if backend == 'legacy' and load_iptc() is None:
        respawn_with('iptc')
        missing.append('python-iptables')
    return missing, backend


def required_backend(module: 'AnsibleModule', backend: str) -> str:
    """The backend resolved; TaskFailed naming what the host lacks in ``missing_requirements``,
    which the role installs before it runs the task again."""
    try:
        missing, resolved = missing_requirements(module, backend)
    except FirewallError as exc:
        raise TaskFailed(str(exc))
    if missing or resolved is None:  # None only where iptables is missing
        raise TaskFailed('%s; install them (the role nslab.net.lab does, with lab_install_packages, for the '
                         'system Python /usr/bin/python3, which the module then uses) and run again'
                         % missing_text(missing), missing_requirements=missing)
    return resolved


def lab_arguments(params: Dict[str, Any]) -> Dict[str, Any]:
    """The module's arguments, as :func:`converge_lab` takes them: the run parses them itself,
    after the requirements, so a host that lacks some is told that first, whatever the lab."""
    return params


def converge_lab(module: 'AnsibleModule', params: Dict[str, Any]) -> Dict[str, Any]:
    """The lab's run, once the host has what it needs, in one Netlink for all its steps."""
    backend = required_backend(module, params['backend'])
    with Netlink() as netlink:
        return run(module, netlink, params, backend)


def read_host(netlink: 'Netlink', state: str) -> Dict[str, Any]:
    """The host and every namespace in /run/netns, as netns_info returns them.

    A teardown needs no namespace's addresses (it allocates none): only the host is read.
    """
    names = named_namespaces.listed() if state == 'present' else []
    views = netlink.read_views([None] + names)  # type: ignore[operator]  # mypy rejects List[None] + List[str]
    return dict(host=describe(views[None]), namespaces={name: describe(views[name]) for name in names},
                name_files=read_host_files() if state == 'present' else {})


def wait_for_veth_ends(module: 'AnsibleModule', netlink: 'Netlink', names: Sequence[str]) -> None:
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


def stale_links_task(module: 'AnsibleModule', netlink: 'Netlink', names: Sequence[str]) -> Dict[str, Any]:
    """Delete the lab's host ends whose namespace was deleted by hand while a process kept it
    alive: their peers are in a namespace no name reaches, so no pair check can apply."""
    def plan(views: Dict[Optional[str], 'NamespaceView'], nsids: Any) -> Tuple[List[Step], List[str]]:
        return [Step('delete_link', None, name) for name in names if views[None].link(name)], []

    def report(views: Dict[Optional[str], 'NamespaceView']) -> List[str]:
        return [name for name in names if views[None].link(name)]

    return run_netlink(netlink, module.check_mode, 'links', [None], plan, report, links_only=True)


def foreign_processes(plan: Dict[str, Any], kill_processes: bool) -> Tuple[List[str], Set[int]]:
    """Problems for processes in namespaces the run deletes that are not the lab's own
    services (those are stopped first), and the pids of those services."""
    doomed = plan['remove']['netns']
    if not doomed:
        return [], set()
    inside = named_namespaces.processes_in(doomed)
    services = service_pids([service['name'] for service in plan['remove']['services']])
    ours = {pid for pids in services.values() for pid in pids}
    problems = []
    for netns in doomed:
        others = sorted((pid, command) for pid, command in inside.get(netns, {}).items() if pid not in ours)
        if others and not kill_processes:
            problems.append('namespace %s still has processes the lab did not start: %s; stop them first or set '
                            'kill_processes: true (lab_kill_processes)'
                            % (netns, ', '.join('%d (%s)' % item for item in others)))
    return problems, ours


def collisions(module: 'AnsibleModule', spec: Dict[str, Any], host_state: Dict[str, Any], owned: 'Owned',
               records: Dict[str, Dict[str, Any]], backend: str) -> List[str]:
    """What the lab would collide with on the host (see :mod:`collisions`)."""
    if spec['state'] != 'present':
        return []
    for warning in host_warnings(spec, host_state):
        module.warn(warning)
    other_labs = {bridge: name for name, record in records.items() if name != spec['name']
                  for bridge in record.get('bridges') or []}
    lab_bridges = set(owned.bridges) | {network['bridge'] for network in spec['networks']}
    try:
        foreign = foreign_published(nat_ruleset(module, backend), own_bridges=lab_bridges)
    except FirewallError as exc:
        raise TaskFailed(str(exc), changed=False)
    return host_collisions(spec, host_state, owned_bridges=owned.bridges, other_labs=other_labs,
                           listening=listening_sockets(ports=published_ports(spec)), foreign=foreign)


def preflight(module: 'AnsibleModule', netlink: 'Netlink', spec: Dict[str, Any], params: Dict[str, Any],
              backend: str) -> Tuple['Owned', Dict[str, Any], Dict[str, Any], Set[int], Optional[Dict[str, Any]]]:
    """Read the host and the lab's record, plan, and find every reason to refuse, before any change."""
    lab = spec['name']
    try:
        records = load_records()
    except RecordError as exc:
        raise TaskFailed(str(exc), changed=False)
    record = records.get(lab) or empty_record()
    names = set(record.get('namespaces') or {}) | {ns['name'] for ns in spec['namespaces']}
    inodes = named_namespaces.inodes(sorted(names))
    owned = verify(lab, record, inodes)
    host_state = read_host(netlink, spec['state'])
    try:
        plan = lab_plan(spec, host_state, owned)
    except InvalidInput as exc:
        raise TaskFailed('the lab is not valid: %s' % '; '.join(exc.problems), problems=exc.problems, changed=False)
    host_links = {link['name']: link['kind'] for link in host_state['host']['links']}
    problems = collisions(module, spec, host_state, owned, records, backend)
    problems += ownership_problems(lab, plan, owned, records, inodes, host_links)
    more, spared = foreign_processes(plan, params['kill_processes'])
    problems += more
    if plan['overlay']:
        found = read_collisions(module)
        problems += overlay_collisions(plan['overlay'], found['vxlans'], found['routes'], owned.overlay_devices)
    found = _name_files(plan)
    problems += _names_problems(spec['name'], plan, found)
    problem = restore_problem(params, spec['state'])
    if problem:
        problems.append(problem)
    if problems:
        raise TaskFailed('the lab cannot be %s, nothing was changed: %s'
                         % ('torn down' if spec['state'] == 'absent' else 'built as declared', '; '.join(problems)),
                         problems=problems, changed=False)
    for warning in owned.warnings + ((plan['names'] or {}).get('warnings') or []):
        module.warn(warning)
    for peer in (plan['overlay'] or {}).get('unknown') or []:
        module.warn('overlay: the underlay address of %s is unknown (it was not reached in this run, no earlier run '
                    'recorded it, and it has no lab_overlay_address): it is left out of the overlay until it is' % peer)
    return owned, host_state, plan, spared, found


def _names_problems(lab: str, plan: Dict[str, Any], found: Optional[Dict[str, Any]] = None) -> List[str]:
    """The name files the plan would write over that are not the lab's; ``found`` what
    /etc/netns holds (read here when not given)."""
    if not plan['names']:
        return []
    try:
        found = read_name_files() if found is None else found
    except NamesError as exc:
        return [str(exc)]
    return names_problems(lab, wanted_paths(plan['names'], plan['namespaces']), found)


def _name_files(plan: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """What /etc/netns holds, read once for the preflight and the names step; None where the
    plan writes no names (the step then reads what it removes) or it cannot be read (the
    preflight says why)."""
    if not plan['names']:
        return None
    try:
        return read_name_files()
    except NamesError:
        return None


def run(module: 'AnsibleModule', netlink: 'Netlink', params: Dict[str, Any], backend: str) -> Dict[str, Any]:
    try:
        spec = lab_spec(lab_variables(params))
    except InvalidInput as exc:
        raise TaskFailed('the lab is not valid: %s' % '; '.join(exc.problems), problems=exc.problems, changed=False)
    try:
        with LabLock(spec['name'], params['lock_timeout'], exclusive=not module.check_mode) as lock:
            return _run_locked(module, netlink, params, backend, spec, lock)
    except LockTimeout as exc:
        raise TaskFailed(str(exc), changed=False)


def _run_locked(module: 'AnsibleModule', netlink: 'Netlink', params: Dict[str, Any], backend: str,
                spec: Dict[str, Any], lock: LabLock) -> Dict[str, Any]:
    """The run, holding the lab's lock: nothing it reads changes under it but by its own hand."""
    owned, host_state, plan, spared, found = preflight(module, netlink, spec, params, backend)
    remove = plan['remove']
    work = dict(STEPS)
    work['netns'] = lambda module, netlink, spec: converge_netns(module, netlink, spec, spared=spared)
    # The preflight read /etc/netns already; the lab's lock keeps it as it was for the lab's files.
    work['names'] = lambda module, netlink, spec: converge_names(module, spec, current=found)
    teardown = spec['state'] == 'absent'
    queue = [(step, 'absent', remove[key]) for step, key in REMOVE_ORDER]
    queue += [(step, 'present', plan[key]) for step, key in BUILD_ORDER]
    result: Dict[str, Any] = dict(changed=False, commands=[], steps=[], diff=dict(before={}, after={}))
    if teardown:
        # First, what would rebuild the lab at boot: a teardown killed halfway must not come back.
        _restore_step(module, params, spec, None, result)
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
                done = work[step](module, netlink, step_spec(step, items, state, plan, params, backend))
        except TaskFailed as exc:
            raise _failed_at(label, exc, result)
        _add_step(result, label, done)
        waiting = waiting or (step == 'netns' and state == 'absent' and bool(remove['dying']) and not module.check_mode)
    if waiting:
        wait_for_veth_ends(module, netlink, remove['dying'])
    if not module.check_mode:
        if teardown:
            lock.remove()
            _forget(spec['name'])
        else:
            _save(spec['name'], final(plan, named_namespaces.inodes(plan['netns'])))
    if not teardown:
        # Last: the declaration stored is always that of a run that succeeded.
        _restore_step(module, params, spec, plan if params['restore_at_boot'] else None, result)
    result.update(plan=plan, host_state=host_state, backend=backend, restore=restore_status(params, spec['state']))
    return result


def _failed_at(label: str, exc: TaskFailed, result: Dict[str, Any]) -> TaskFailed:
    """The failure of step ``label``, with what the steps before it did."""
    fields = dict(exc.fields, changed=result['changed'] or bool(exc.fields.get('changed')), failed_step=label,
                  steps=result['steps'], commands=result['commands'] + exc.fields.get('commands', []))
    return TaskFailed('%s: %s' % (label, exc.msg), **fields)


def _add_step(result: Dict[str, Any], label: str, done: Dict[str, Any]) -> None:
    result['changed'] = result['changed'] or done['changed']
    result['commands'] += done['commands']
    result['steps'].append(dict(step=label, changed=done['changed'], commands=done['commands']))
    result['diff']['before'][label] = done['diff']['before']
    result['diff']['after'][label] = done['diff']['after']


def _restore_step(module: 'AnsibleModule', params: Dict[str, Any], spec: Dict[str, Any],
                  plan: Optional[Dict[str, Any]], result: Dict[str, Any]) -> None:
    """Store the lab's declaration for the boot (``plan``), or remove it (None)."""
    label = 'restore' if plan is not None else 'restore (remove)'
    try:
        done = converge_restore(module, params, spec, plan)
    except TaskFailed as exc:
        raise _failed_at(label, exc, result)
    if done['commands'] or done['changed']:
        _add_step(result, label, done)


def _save(lab: str, record: Dict[str, Any]) -> None:
    try:
        save_record(lab, record)
    except RecordError as exc:
        raise TaskFailed(str(exc))


def _forget(lab: str) -> None:
    try:
        delete_record(lab)
    except RecordError as exc:
        raise TaskFailed(str(exc), changed=True)
