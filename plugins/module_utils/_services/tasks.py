# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of nslab.net.netns_service: check, read, plan, apply (unless check mode), report.

A function from validated parameters to the result, shared by the module and by
nslab.net.lab_network; failures raise :class:`errors.TaskFailed`.
"""


import os
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.nslab.net.plugins.module_utils._netlink import named_namespaces
from ansible_collections.nslab.net.plugins.module_utils._services import processes
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import netns_name_error
from ansible_collections.nslab.net.plugins.module_utils._common.errors import TaskFailed
from ansible_collections.nslab.net.plugins.module_utils._common.results import task_result
from ansible_collections.nslab.net.plugins.module_utils._services.plan import (
    Observed, plan_services, report_services, simulate_services)
from ansible_collections.nslab.net.plugins.module_utils._services.spec import (
    SERVICE_KEYS, choose_manager, host_problems, parse_services)
from ansible_collections.nslab.net.plugins.module_utils._services.processes import ServiceError
from ansible_collections.nslab.net.plugins.module_utils._services.systemd import Systemd, booted
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import task_items

# What nslab.net.netns_service runs besides the functions below: the module imports from this file alone.
from ansible_collections.nslab.net.plugins.module_utils._services.spec import SERVICE_ARGS  # pylint: disable=unused-import

if TYPE_CHECKING:
    from ansible.module_utils.basic import AnsibleModule
    from ansible_collections.nslab.net.plugins.module_utils._services.plan import ProcessRecord, ServiceStep

# Long enough for a mistyped command to fail, short enough to pay once per task.
SETTLE_SECONDS = 0.5


def _host_facts(specs: Sequence[Dict[str, Any]]) -> Tuple[Dict[str, bool], Dict[str, bool]]:
    """Whether the namespaces and explicit directories of ``specs`` exist."""
    namespaces = {spec['netns']: named_namespaces.status(spec['netns']) == 'present'
                  for spec in specs if spec['netns'] and not netns_name_error(spec['netns'])}
    directories = {spec['chdir']: os.path.isdir(spec['chdir']) for spec in specs
                   if not spec['own_chdir'] and spec['chdir'].startswith('/')}
    return namespaces, directories


def _read(names: Sequence[str], systemd: Optional[Systemd]) -> Dict[str, Observed]:
    records = processes.read_records(names)
    units = systemd.read_units(names) if systemd else {}
    return {name: Observed(records[name], units.get(name)) for name in names}


def _apply(module: 'AnsibleModule', steps: Sequence['ServiceStep'], records: Dict[str, Optional['ProcessRecord']],
           systemd: Optional[Systemd]) -> List[processes.Started]:
    """Apply ``steps`` in order; return the processes started. Stops are one batch."""
    done, started = [], []
    step = None
    try:
        stops = [s for s in steps if s.op == 'stop_process']
        if stops:
            step = stops[0]
            processes.stop(stops, records)
            done.extend(stops)
        ip = None
        for step in steps:
            if step.op == 'stop_process':
                continue
            if step.op == 'start_process':
                ip = ip or module.get_bin_path('ip', required=True)
                started.append(processes.start(step, ip))
            elif step.op == 'record_process':
                processes.complete_record(step)
            else:
                systemd.apply(step)  # type: ignore[union-attr]  # units, so their steps, exist only under systemd
            done.append(step)
    except (ServiceError, OSError) as exc:
        raise TaskFailed('%s: %s' % (step.as_command(), exc), changed=bool(done),  # type: ignore[union-attr]  # set before any call
                         commands=[s.as_command() for s in steps],
                         applied=[s.as_command() for s in done])
    return started


def service_spec(params: Dict[str, Any]) -> Dict[str, Any]:
    """What nslab.net.netns_service's arguments ask for. Problems of the arguments are kept
    in ``problems``, not raised, so that the task reports them with those of the host."""
    specs, problems = parse_services(task_items(params, 'services', SERVICE_KEYS), params['state'])
    return dict(services=specs, problems=problems, state=params['state'], manager=params['manager'])


def converge_services(module: 'AnsibleModule', spec: Dict[str, Any]) -> Dict[str, Any]:
    state, requested, specs = spec['state'], spec['manager'], spec['services']
    problems = list(spec['problems'])
    systemd_booted = booted()
    manager = choose_manager(requested, systemd_booted)
    namespaces, directories = _host_facts(specs)
    problems.extend(host_problems(specs, state, requested, systemd_booted, namespaces, directories,
                                  module.check_mode))
    if problems:
        raise TaskFailed('; '.join(problems), problems=problems, changed=False)

    systemd = None
    if systemd_booted:
        systemd = Systemd(module.run_command, module.get_bin_path('systemctl', required=True),
                          module.get_bin_path('journalctl'))
    names = [spec['name'] for spec in specs]
    try:
        observed = _read(names, systemd)
    except (ServiceError, OSError) as exc:
        raise TaskFailed('reading the services: %s' % exc, changed=False)
    steps = plan_services(specs, state, manager, observed)
    commands = [step.as_command() for step in steps]
    before = report_services(specs, observed)
    failures = []
    if module.check_mode or not steps:
        after = report_services(specs, simulate_services(specs, state, manager, observed) if steps else observed)
    else:
        records = {name: seen.process for name, seen in observed.items()}
        started = _apply(module, steps, records, systemd)
        restarted = [step.name for step in steps if step.op == 'restart_unit']
        if started or restarted:
            time.sleep(SETTLE_SECONDS)
        failures = processes.exited(started)
        if restarted:
            failures.extend(systemd.not_running(restarted))  # type: ignore[union-attr]  # restart_unit: under systemd
        after = report_services(specs, _read(names, systemd))
    result = task_result(bool(steps), commands, dict(services=before), dict(services=after), manager=manager)
    if failures:
        raise TaskFailed('\n'.join(message for name, message in failures),
                         failed_services=[name for name, message in failures], **result)
    return result
