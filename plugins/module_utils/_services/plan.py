# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the netns_service module: validated services + what runs -> steps.

Two managers run a service. ``systemd`` gets a runtime unit file per service; ``process``
(where systemd is not init: containers, sandboxes) starts ``ip netns exec`` in a session of
its own and keeps a JSON record per service. Both are observed into the value objects here,
planned by the same code, and reported as the same dicts, so a check run's prediction and a
real run's re-read compare as data.
"""


import json
import re
import shlex
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._netlink.model import ValueObject
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import (
    NETNS_ETC_DIR, NETNS_ETC_FILES, NETNS_RUN_DIR, netns_name_error)
from ansible_collections.nslab.net.plugins.module_utils._common.parameters import duplicates

SERVICE_KEYS = ('netns', 'command', 'name', 'chdir')
MANAGERS = ('systemd', 'process')
STATE_DIR = '/run/nslab/services'
UNIT_DIR = '/run/systemd/system'
SHELL = '/bin/sh'
MAX_NAME = 64
# The name becomes a file name and part of a unit name: only characters both take as is.
_NAME = re.compile(r'[A-Za-z0-9_.-]+\Z')
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
# Read back from a unit file to report what it runs; JSON keeps it on one line.
UNIT_METADATA = '# nslab.net.netns_service: '
# The process manager's service carries NAME:TOKEN in this variable (the token is random
# and written to the record before the process is spawned), so a run killed between the
# spawn and the record still leaves a way to find the process it started.
SERVICE_ENV = 'NSLAB_SERVICE'
_TOKEN = re.compile(r'[0-9a-f]{16,64}\Z')


def record_path(name: str) -> str:
    return '%s/%s.json' % (STATE_DIR, name)


def log_path(name: str) -> str:
    return '%s/%s.log' % (STATE_DIR, name)


def service_mark(name: str, token: str) -> str:
    """The value of SERVICE_ENV in the environment of service ``name`` started with ``token``."""
    return '%s:%s' % (name, token)


def valid_token(token: object) -> bool:
    return isinstance(token, str) and bool(_TOKEN.match(token))


def environ_mark(environ: bytes) -> Optional[str]:
    """The value of SERVICE_ENV in the bytes of a /proc/PID/environ, or None.

    The first assignment counts, as for getenv(3); a value that is not text is nobody's mark.
    """
    key = SERVICE_ENV.encode('ascii') + b'='
    if key not in environ:
        return None
    for entry in environ.split(b'\0'):
        if entry.startswith(key):
            try:
                return entry[len(key):].decode('ascii')
            except UnicodeDecodeError:
                return None
    return None


def token_leader(holders: Sequence[Tuple[int, Optional[int], int]]) -> Optional[int]:
    """The pid that names the service whose processes ``holders`` carry its token.

    ``holders`` are ``(pid, session, start_time)`` of the live processes with the token. The
    module starts the service as the leader of a new session and group, so the service is
    that session: the one of the oldest holder (the leader itself, or, when it is gone or no
    longer shows its environment, its oldest descendant). On a tie of start times (they count
    in clock ticks) a session leader is preferred, then the lower pid. None without holders.
    """
    if not holders:
        return None
    oldest = min(holders, key=lambda holder: (holder[2], holder[0] != holder[1], holder[0]))
    return oldest[1]


def record_fields(name: str, netns: Optional[str], command: Optional[str], chdir: Optional[str], token: Optional[str],
                  pid: Optional[int] = None, start_time: Optional[int] = None) -> Dict[str, Any]:
    """The contents of a process record; ``pid`` None while the process is not spawned yet."""
    return dict(netns=netns, command=command, chdir=chdir, log=log_path(name), token=token, pid=pid,
                start_time=start_time)


def record_text(fields: Dict[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True) + '\n'


def cgroup_units(text: str) -> Set[str]:
    """The systemd service units named in the cgroup paths of a /proc/PID/cgroup text.

    Lines are ``ID:CONTROLLERS:PATH``, one per hierarchy (cgroup v1) or one ``0::PATH`` (v2);
    a unit's processes live in its cgroup or in cgroups below it.
    """
    units: Set[str] = set()
    for line in text.splitlines():
        path = line.split(':', 2)[-1]
        units.update(part for part in path.split('/') if part.endswith('.service'))
    return units


def service_members(processes: Iterable[Tuple[int, int, Optional[str]]], groups: Dict[int, str],
                    units: Dict[str, str]) -> Dict[str, Set[int]]:
    """Which of ``processes`` belong to which service: ``{name: set(pids)}``.

    ``processes`` are ``(pid, pgrp, cgroup text or None)``; ``groups`` maps a process group
    proven to be a service's (see service_processes.service_pids) to its name, ``units`` a
    unit name to its service's name.
    """
    found: Dict[str, Set[int]] = {name: set() for name in set(groups.values()) | set(units.values())}
    for pid, pgrp, cgroup in processes:
        if pgrp in groups:
            found[groups[pgrp]].add(pid)
        if cgroup and units:
            for unit in cgroup_units(cgroup):
                if unit in units:
                    found[units[unit]].add(pid)
    return found


def default_chdir(name: str) -> str:
    """The default working directory: empty, so a file server started without chdir serves nothing."""
    return '%s/%s.d' % (STATE_DIR, name)


def unit_name(name: str) -> str:
    return 'nslab-%s.service' % name


def unit_path(name: str) -> str:
    return '%s/%s' % (UNIT_DIR, unit_name(name))


def choose_manager(requested: str, systemd_booted: bool) -> str:
    """The manager ``auto`` means here: systemd when it is init (sd_booted), else process."""
    if requested == 'auto':
        return 'systemd' if systemd_booted else 'process'
    return requested


def service_name_error(name: object) -> Optional[str]:
    """Return why ``name`` cannot name a service (a file and a unit name), or None."""
    if not isinstance(name, str) or not name:
        return 'service name %r is empty' % (name,)
    if len(name) > MAX_NAME or not _NAME.match(name):
        return ("service name %r may only contain letters, digits, '-', '_' and '.', at most %d "
                "characters" % (name, MAX_NAME))
    if name.startswith('.'):
        return 'service name %r may not start with a dot' % (name,)
    return None


def parse_services(items: Iterable[Dict[str, Any]], state: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Validate the task's service items; return ``(specs, problems)``.

    A spec is a dict with name, netns, command and chdir (the default filled in) and
    ``own_chdir`` (True when chdir is the service's own directory, which the module creates).
    Problems of every item are collected; the caller adds the host's before failing.
    """
    specs, problems = [], []  # type: List[Dict[str, Any]], List[str]
    for number, item in enumerate(items, 1):
        netns, command = item.get('netns') or None, item.get('command')
        name = item.get('name') or netns
        label = 'service %r' % (name,) if name else 'service #%d' % number
        errors: List[Optional[str]] = []
        if name is None:
            errors.append('give netns (or, with state=absent, name)' if state == 'absent'
                          else 'netns is required')
        else:
            errors.append(service_name_error(name))
        if netns is None and state == 'present' and name is not None:
            errors.append('netns is required with state=present')
        elif netns is not None:
            errors.append(netns_name_error(netns))
        if state == 'present':
            errors.append(_command_error(command))
        chdir = item.get('chdir') or None
        if chdir is not None:
            errors.append(_chdir_error(chdir))
        problems.extend('%s: %s' % (label, error) for error in errors if error)
        specs.append(dict(name=name, netns=netns, command=command,
                          chdir=chdir or (default_chdir(name) if name else None),
                          own_chdir=chdir is None))
    for repeated in duplicates(spec['name'] for spec in specs if spec['name']):
        problems.append('service name %r is listed twice' % (repeated,))
    return specs, problems


def _command_error(command: Optional[str]) -> Optional[str]:
    if command is None:
        return 'command is required with state=present'
    if not command.strip():
        return 'command is empty'
    if '\0' in command:
        return 'command %r contains a NUL character' % (command,)
    return None


def _chdir_error(chdir: str) -> Optional[str]:
    if not chdir.startswith('/'):
        return 'chdir %r is not an absolute path' % (chdir,)
    if _CONTROL.search(chdir):
        return 'chdir %r contains a control character' % (chdir,)
    if chdir != chdir.strip():
        # systemd strips it from WorkingDirectory=, so the two managers would disagree.
        return 'chdir %r begins or ends with white space' % (chdir,)
    return None


def host_problems(specs: Iterable[Dict[str, Any]], state: str, requested_manager: str, systemd_booted: bool,
                  namespaces: Dict[str, bool], directories: Dict[str, bool], check_mode: bool) -> List[str]:
    """What the host says against the task: a missing namespace or directory, no systemd.

    ``namespaces`` maps netns names to whether they exist, ``directories`` the explicit
    chdirs to whether they are directories. In check mode missing ones are taken as made by
    an earlier task of the play, as the other modules do.
    """
    problems = []
    if requested_manager == 'systemd' and not systemd_booted:
        problems.append('manager systemd: systemd is not the init system here (%s is not a '
                        'directory); use manager: auto or process' % UNIT_DIR)
    if state != 'present' or check_mode:
        return problems
    for spec in specs:
        netns = spec['netns']
        if netns in namespaces and not namespaces[netns]:
            problems.append('service %r: namespace %s does not exist (create it first, e.g. with '
                            'nslab.net.netns)' % (spec['name'], netns))
        chdir = spec['chdir']
        if not spec['own_chdir'] and chdir in directories and not directories[chdir]:
            problems.append('service %r: chdir %s is not a directory' % (spec['name'], chdir))
    return problems


class ProcessRecord(ValueObject):
    """A service of the process manager: its record and what became of its process.

    ``alive``: the recorded pid runs with the recorded start time (so it is the process the
    module started, not a reuse of its pid). ``in_netns``: it is inside the namespace now
    mounted at /run/netns/NETNS (False once the namespace was deleted and made again).
    ``leftovers``: the leader is gone but processes of its group (its children) remain.
    ``token``: the random token in the service's environment (SERVICE_ENV). ``pending``: the
    record was written before the spawn and never completed (the run died in between); its
    pid, if any, was found by the token.
    """

    def __init__(self, name: str, netns: Optional[str] = None, command: Optional[str] = None, chdir: Optional[str] = None,
                 pid: Optional[int] = None, start_time: Optional[int] = None, alive: bool = False, in_netns: bool = False,
                 leftovers: bool = False, token: Optional[str] = None, pending: bool = False) -> None:
        self.name = name
        self.netns = netns
        self.command = command
        self.chdir = chdir
        self.pid = pid
        self.start_time = start_time
        self.alive = alive
        self.in_netns = in_netns
        self.leftovers = leftovers
        self.token = token
        self.pending = pending

    @property
    def running(self) -> bool:
        return self.alive and self.in_netns


class UnitState(ValueObject):
    """A service of the systemd manager: its unit file's text and the unit's state.

    ``in_netns``: the unit's main process is inside the namespace now mounted for it.
    ``need_reload``: systemd has not loaded the file as it is now (a new file it has not
    found, or one changed on disk since: LoadState other than loaded, NeedDaemonReload=yes).
    """

    def __init__(self, name: str, text: str, active_state: str = 'inactive', main_pid: int = 0, in_netns: bool = False,
                 need_reload: bool = False) -> None:
        self.name = name
        self.text = text
        self.active_state = active_state
        self.main_pid = main_pid
        self.in_netns = in_netns
        self.need_reload = need_reload

    @property
    def running(self) -> bool:
        return self.active_state == 'active' and bool(self.main_pid) and self.in_netns

    def described(self) -> Dict[str, Optional[str]]:
        """The netns, command and chdir the unit runs, from its metadata line."""
        return unit_metadata(self.text)


class Observed(ValueObject):
    """What one service name has on the host, under either manager (normally one of them)."""

    def __init__(self, process: Optional[ProcessRecord] = None, unit: Optional[UnitState] = None) -> None:
        self.process = process
        self.unit = unit


def systemd_quote(argument: str) -> str:
    """``argument`` as one word of a systemd command line, taken literally.

    Double quotes with C escapes keep it one word; specifiers (``%``) are expanded even in
    quotes and environment variables (``$``) after unquoting, so both are doubled.
    """
    out = []
    for char in argument:
        if char in '\\"':
            out.append('\\' + char)
        elif char == '\n':
            out.append('\\n')
        elif char == '\t':
            out.append('\\t')
        elif _CONTROL.match(char):
            out.append('\\x%02x' % ord(char))
        elif char in '%$':
            out.append(char * 2)
        else:
            out.append(char)
    return '"%s"' % ''.join(out)


def _specifiers_escaped(value: str) -> str:
    return value.replace('%', '%%')


def unit_text(spec: Dict[str, Any]) -> str:
    """The unit file of a service of the systemd manager."""
    metadata = json.dumps(dict(netns=spec['netns'], command=spec['command'], chdir=spec['chdir']),
                          sort_keys=True)
    return '\n'.join([
        '# Written by nslab.net.netns_service; removed by it with state=absent.',
        '# A runtime unit: it is gone after a reboot, like the namespace it runs in.',
        UNIT_METADATA + metadata,
        '[Unit]',
        'Description=%s' % _specifiers_escaped('nslab.net service %s in network namespace %s'
                                               % (spec['name'], spec['netns'])),
        'After=network.target',
        '',
        '[Service]',
        'Type=simple',
        'NetworkNamespacePath=%s' % _specifiers_escaped('%s/%s' % (NETNS_RUN_DIR, spec['netns'])),
        # What `ip netns exec` binds (the namespace's names, which the lab writes there);
        # "-": a namespace without them keeps the host's.
    ] + ['BindReadOnlyPaths=-%s:/etc/%s' % (_specifiers_escaped('%s/%s/%s' % (NETNS_ETC_DIR, spec['netns'], name)), name)
         for name in NETNS_ETC_FILES] + [
        'WorkingDirectory=%s' % _specifiers_escaped(spec['chdir']),
        'ExecStart=%s -c %s' % (SHELL, systemd_quote(spec['command'])),
        'Restart=on-failure',
        'RestartSec=1s',
        # The process manager's grace period, so both stop a service alike.
        'TimeoutStopSec=5s',
        '',
    ])


def unit_metadata(text: Optional[str]) -> Dict[str, Optional[str]]:
    """``dict(netns, command, chdir)`` from a unit file this module wrote; Nones otherwise."""
    for line in (text or '').splitlines():
        if line.startswith(UNIT_METADATA):
            try:
                found = json.loads(line[len(UNIT_METADATA):])
            except ValueError:
                break
            if isinstance(found, dict):
                return {key: found.get(key) for key in ('netns', 'command', 'chdir')}
            break
    return dict(netns=None, command=None, chdir=None)


class ServiceStep(ValueObject):
    """One change: an operation on service ``name`` with its arguments.

    Operations: stop_process, start_process, record_process, write_unit, remove_unit,
    stop_unit, daemon_reload, reset_failed, restart_unit.
    """

    def __init__(self, op: str, name: Optional[str] = None, **args: Any) -> None:
        self.op = op
        self.name: str = name  # type: ignore[assignment]  # None only for daemon_reload, which names no service
        self.args = args

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


_SERVICE_OPTIONS = dict(
    netns=dict(type='str'),
    command=dict(type='str'),
    name=dict(type='str'),
    chdir=dict(type='path'),
)
#: The module's arguments (AnsibleModule keyword arguments), shared with lab_network.
SERVICE_ARGS = dict(
    argument_spec=dict(
        _SERVICE_OPTIONS,
        services=dict(type='list', elements='dict', options=_SERVICE_OPTIONS),
        manager=dict(type='str', choices=['auto', 'systemd', 'process'], default='auto'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ),
    required_one_of=[('services', 'netns', 'name')],
    mutually_exclusive=[('services', key) for key in SERVICE_KEYS],
)
