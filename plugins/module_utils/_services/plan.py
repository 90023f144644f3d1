# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the netns_service module: checked services (spec.py) + what runs -> steps.

Two managers run a service. ``systemd`` gets a runtime unit file per service; ``process``
(where systemd is not init: containers, sandboxes) starts ``ip netns exec`` in a session of
its own and keeps a JSON record per service. Both are observed into the value objects here,
planned by the same code, and reported as the same dicts, so a check run's prediction and a
real run's re-read compare as data.
"""


import shlex
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.values import init_frozen
from ansible_collections.nslab.net.plugins.module_utils._services.identity import record_fields, record_text
from ansible_collections.nslab.net.plugins.module_utils._services.paths import SHELL, log_path, record_path, unit_name, unit_path
from ansible_collections.nslab.net.plugins.module_utils._services.unit_file import unit_metadata, unit_text


@dataclass
class ProcessRecord:
    """A service of the process manager: its record and what became of its process.

    ``alive``: the recorded pid runs with the recorded start time (so it is the process the
    module started, not a reuse of its pid). ``in_netns``: it is inside the namespace now
    mounted at /run/netns/NETNS (False once the namespace was deleted and made again).
    ``leftovers``: the leader is gone but processes of its group (its children) remain.
    ``token``: the random token in the service's environment (SERVICE_ENV). ``pending``: the
    record was written before the spawn and never completed (the run died in between); its
    pid, if any, was found by the token.
    """

    name: str
    netns: Optional[str] = None
    command: Optional[str] = None
    chdir: Optional[str] = None
    pid: Optional[int] = None
    start_time: Optional[int] = None
    alive: bool = False
    in_netns: bool = False
    leftovers: bool = False
    token: Optional[str] = None
    pending: bool = False

    @property
    def running(self) -> bool:
        return self.alive and self.in_netns


@dataclass
class UnitState:
    """A service of the systemd manager: its unit file's text and the unit's state.

    ``in_netns``: the unit's main process is inside the namespace now mounted for it.
    ``need_reload``: systemd has not loaded the file as it is now (a new file it has not
    found, or one changed on disk since: LoadState other than loaded, NeedDaemonReload=yes).
    """

    name: str
    text: str
    active_state: str = 'inactive'
    main_pid: int = 0
    in_netns: bool = False
    need_reload: bool = False

    @property
    def running(self) -> bool:
        return self.active_state == 'active' and bool(self.main_pid) and self.in_netns

    def described(self) -> Dict[str, Optional[str]]:
        """The netns, command and chdir the unit runs, from its metadata line."""
        return unit_metadata(self.text)


@dataclass(frozen=True)
class Observed:
    """What one service name has on the host, under either manager (normally one of them)."""

    process: Optional[ProcessRecord] = None
    unit: Optional[UnitState] = None


@dataclass(frozen=True, init=False, repr=False)
class ServiceStep:
    """One change: an operation on service ``name`` with its arguments.

    Operations: stop_process, start_process, record_process, write_unit, remove_unit,
    stop_unit, daemon_reload, reset_failed, restart_unit.
    """

    op: str
    name: str  # None only for daemon_reload, which names no service
    args: Dict[str, Any]

    def __init__(self, op: str, name: Optional[str] = None, **args: Any) -> None:
        init_frozen(self, op=op, name=name, args=args)

    def __repr__(self) -> str:
        return 'ServiceStep(%r, %r, %r)' % (self.op, self.name, self.args)

    def as_command(self) -> str:
        """The shell command a person would type for this step: shown to users in results."""
        a = self.args
        if self.op == 'stop_process':
            kill = 'kill -TERM -- -%d; ' % a['pid'] if a.get('pid') else ''
            return '%srm -f %s' % (kill, record_path(self.name))
        if self.op == 'start_process':
            mkdir = 'mkdir -p %s && ' % shlex.quote(a['chdir']) if a['own_chdir'] else ''
            return '%scd %s && ip netns exec %s setsid %s -c %s </dev/null >>%s 2>&1 &' % (
                mkdir, shlex.quote(a['chdir']), shlex.quote(a['netns']), SHELL,
                shlex.quote(a['command']), log_path(self.name))
        if self.op == 'record_process':
            return 'echo %s >%s' % (shlex.quote(a['text'].rstrip('\n')), record_path(self.name))
        if self.op == 'write_unit':
            return "cat >%s <<'EOF'\n%sEOF" % (unit_path(self.name), a['text'])
        if self.op == 'remove_unit':
            return 'rm -f %s' % unit_path(self.name)
        if self.op == 'daemon_reload':
            return 'systemctl daemon-reload'
        if self.op == 'restart_unit' and a.get('make_dir'):
            return 'mkdir -p %s && systemctl restart %s' % (shlex.quote(a['make_dir']), unit_name(self.name))
        verb = {'stop_unit': 'stop', 'reset_failed': 'reset-failed', 'restart_unit': 'restart'}[self.op]
        return 'systemctl %s %s' % (verb, unit_name(self.name))


def _same(record: ProcessRecord, spec: Dict[str, Any]) -> bool:
    return (record.netns, record.command, record.chdir) == (spec['netns'], spec['command'], spec['chdir'])


def _stop_process(record: ProcessRecord) -> ServiceStep:
    # Only a process the module can prove is its own (or that process's group) is signalled.
    pid = record.pid if record.alive or record.leftovers else None
    return ServiceStep('stop_process', record.name, pid=pid)


def plan_services(specs: Iterable[Dict[str, Any]], state: str, manager: str, observed: Dict[str, Observed]) -> List[ServiceStep]:
    """Return the steps that bring the services of ``specs`` to ``state`` under ``manager``.

    ``observed`` maps each name to an Observed. A service found under the other manager is
    stopped and removed there, so it never runs twice. Stops come first, so a restarted or
    moved service finds its port free; one daemon-reload covers every unit file changed.

    Every state a run can be killed in converges on the next run without a second copy of a
    service: a process started but not yet recorded is found by its token and recorded; a
    unit file written but not loaded is reloaded (``need_reload``); and a running unit is
    stopped before its file changes, so the old command never keeps running under a new file,
    a state no later run could tell from a finished one.
    """
    process_stops, unit_stops, unit_files, restarts, starts, records = [], [], [], [], [], []
    reload_needed = False
    for spec in specs:
        name = spec['name']
        seen = observed.get(name) or Observed()
        record, unit = seen.process, seen.unit
        keep_process = state == 'present' and manager == 'process'
        keep_unit = state == 'present' and manager == 'systemd'
        if record is not None and not (keep_process and record.running and _same(record, spec)):
            process_stops.append(_stop_process(record))
            if keep_process:
                starts.append(_start(spec))
        elif record is None and keep_process:
            starts.append(_start(spec))
        elif keep_process and record.pending:  # type: ignore[union-attr]  # not None: the branch above took that
            records.append(_record_process(record))  # type: ignore[arg-type]
        active = unit is not None and unit.active_state not in ('inactive', 'failed')
        if unit is not None and not keep_unit:
            # systemctl stop fails on a unit systemd has not loaded: only stop what runs. A
            # failed unit would stay listed as failed after its file is gone.
            if active:
                unit_stops.append(ServiceStep('stop_unit', name))
            if unit.active_state == 'failed':
                unit_stops.append(ServiceStep('reset_failed', name))
            unit_files.append(ServiceStep('remove_unit', name))
        elif keep_unit:
            text = unit_text(spec)
            rewrite = unit is None or unit.text != text
            stale = rewrite or unit.need_reload  # type: ignore[union-attr]  # not rewrite: unit is not None
            reload_needed = reload_needed or stale
            if stale and active:
                unit_stops.append(ServiceStep('stop_unit', name))
            if rewrite:
                unit_files.append(ServiceStep('write_unit', name, text=text))
            if stale or not unit.running:  # type: ignore[union-attr]  # not stale: unit is not None
                if unit is not None and unit.active_state == 'failed':
                    # A unit that hit its start limit refuses restart until this.
                    restarts.append(ServiceStep('reset_failed', name))
                restarts.append(ServiceStep('restart_unit', name,
                                            make_dir=spec['chdir'] if spec['own_chdir'] else None))
    reload = [ServiceStep('daemon_reload')] if unit_files or reload_needed else []
    return process_stops + unit_stops + unit_files + reload + restarts + starts + records


def _record_process(record: ProcessRecord) -> ServiceStep:
    fields = record_fields(record.name, record.netns, record.command, record.chdir, record.token,
                           record.pid, record.start_time)
    return ServiceStep('record_process', record.name, pid=record.pid, start_time=record.start_time,
                       text=record_text(fields))


def _start(spec: Dict[str, Any]) -> ServiceStep:
    return ServiceStep('start_process', spec['name'], netns=spec['netns'], command=spec['command'],
                       chdir=spec['chdir'], own_chdir=spec['own_chdir'])


def simulate_services(specs: Iterable[Dict[str, Any]], state: str, manager: str,
                      observed: Dict[str, Observed]) -> Dict[str, Observed]:
    """``observed`` as it is after the plan of the same arguments: what check mode reports."""
    after = dict(observed)
    for spec in specs:
        name = spec['name']
        if state == 'absent':
            after[name] = Observed()
        elif manager == 'process':
            after[name] = Observed(process=ProcessRecord(
                name, spec['netns'], spec['command'], spec['chdir'], alive=True, in_netns=True))
        else:
            after[name] = Observed(unit=UnitState(name, unit_text(spec), 'active', -1, in_netns=True))
    return after


def report_services(specs: Iterable[Dict[str, Any]], observed: Dict[str, Observed]) -> List[Dict[str, Any]]:
    """The services of ``specs`` that exist in ``observed``, one dict per manager holding one."""
    report = []
    for spec in specs:
        seen = observed.get(spec['name']) or Observed()
        if seen.process is not None:
            record = seen.process
            report.append(dict(name=record.name, netns=record.netns, command=record.command,
                               chdir=record.chdir, manager='process', running=record.running))
        if seen.unit is not None:
            described = seen.unit.described()
            report.append(dict(name=seen.unit.name, netns=described['netns'],
                               command=described['command'], chdir=described['chdir'],
                               manager='systemd', running=seen.unit.running))
    return report
