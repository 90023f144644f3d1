# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The process manager of netns_service: detached ``ip netns exec`` and a record per service.

Where systemd is not init nothing supervises the service, so this module proves ownership
itself: a process counts as the service only while its pid runs with the start time recorded
when it was started (/proc/PID/stat field 22), so a pid reused by another program is never
signalled. The service leads a session and process group of its own (setsid): it survives
the end of the play and of an ssh session, and stopping it reaches the children it forked.

A run can be killed (SIGKILL, a lost connection) at any instant, also between the spawn and
the record. So the record is written twice: before the spawn with a random token and no pid,
after it with the pid and start time. The token is in the service's environment
(``NSLAB_SERVICE=NAME:TOKEN``), and a record still without a pid is completed by finding the
process that carries it (one pass over /proc, only for such records).
"""


import errno
import json
import os
import signal
import subprocess
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import NETNS_RUN_DIR
from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import remove_file, write_atomically
from ansible_collections.nslab.net.plugins.module_utils._common.signals import kill_group, signal_and_wait
from ansible_collections.nslab.net.plugins.module_utils._services import paths as service_paths
from ansible_collections.nslab.net.plugins.module_utils._services.identity import (
    SERVICE_ENV, environ_mark, record_fields, record_text, service_mark, service_members, token_leader, valid_token)
from ansible_collections.nslab.net.plugins.module_utils._services.paths import (
    SHELL, STATE_DIR, log_path, record_path, unit_name)
from ansible_collections.nslab.net.plugins.module_utils._services.plan import ProcessRecord

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._services.plan import ServiceStep

STOP_GRACE_SECONDS = 5.0
KILL_WAIT_SECONDS = 2.0
LOG_TAIL_LINES = 15
LOG_TAIL_BYTES = 8192
# The service gets a clean environment, as a systemd unit does, not the module's (which
# carries Ansible's variables and whatever the login shell of the connection set).
SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'


class ServiceError(Exception):
    """A service could not be started or stopped."""


def namespace_identity(path: str) -> Optional[Tuple[int, int]]:
    """``(st_dev, st_ino)`` of a network namespace file, None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def netns_identity(netns: Optional[str]) -> Optional[Tuple[int, int]]:
    return namespace_identity('%s/%s' % (NETNS_RUN_DIR, netns)) if netns else None


class ProcStat:
    """The fields of /proc/PID/stat this module needs."""

    def __init__(self, state: str, pgrp: int, start_time: int, session: Optional[int] = None) -> None:
        self.state = state
        self.pgrp = pgrp
        self.start_time = start_time
        self.session = session

    @property
    def gone(self) -> bool:
        return self.state in 'ZXx'


def proc_stat(pid: int) -> Optional[ProcStat]:
    """The ProcStat of ``pid``, or None when no such process exists."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            text = handle.read()
    except OSError:
        return None
    # "pid (comm) state ppid pgrp session ..."; comm may hold spaces and parentheses.
    fields = text[text.rfind(')') + 2:].split()
    return ProcStat(fields[0], int(fields[2]), int(fields[19]), int(fields[3]))


def _live_groups() -> Set[int]:
    """The process group ids that have a live (non-zombie) member, in one pass over /proc."""
    groups = set()
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None and not stat.gone:
                groups.add(stat.pgrp)
    return groups


def _ours(pid: int, start_time: Optional[int]) -> bool:
    """Whether signalling process group ``pid`` can only reach what the module started.

    Yes while the pid runs (or is a zombie) with the recorded start time; yes when no process
    has the pid, because the kernel keeps a pid from reuse while it names a live group, so
    any member left is a child of our leader. No when another process now has the pid.
    """
    stat = proc_stat(pid)
    return stat is None or stat.start_time == start_time


def _pids() -> List[int]:
    return [int(entry) for entry in os.listdir('/proc') if entry.isdigit()]


def _read_bytes(path: str) -> bytes:
    with open(path, 'rb') as handle:
        return handle.read()


def _load_record(name: str) -> Optional[Dict[str, Any]]:
    """The dict in a service's record; None when there is none, {} when it is not ours."""
    try:
        with open(record_path(name)) as handle:
            data = json.load(handle)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        return None
    except ValueError:
        return {}  # a torn or foreign file: nothing in it is trusted, it gets replaced
    return data if isinstance(data, dict) else {}


def read_records(names: Iterable[str]) -> Dict[str, Optional[ProcessRecord]]:
    """Map each name to its ProcessRecord, or None when it has no record."""
    records: Dict[str, Optional[ProcessRecord]] = {}
    pending = {}
    record: Optional[ProcessRecord]
    for name in names:
        data = _load_record(name)
        if data is None:
            records[name] = None
            continue
        pid, start_time, token = data.get('pid'), data.get('start_time'), data.get('token')
        record = ProcessRecord(name, data.get('netns'), data.get('command'), data.get('chdir'),
                               pid, start_time, token=token if valid_token(token) else None)
        if not (isinstance(pid, int) and isinstance(start_time, int) and pid > 0):
            record.pid = record.start_time = None
            if record.token:
                record.pending = True
                pending[service_mark(name, record.token)] = record
        records[name] = record
    if pending:
        _find_by_token(pending)
    orphaned = []
    for record in records.values():
        if record is None or record.pid is None:
            continue
        stat = proc_stat(record.pid)
        if stat is not None and stat.start_time == record.start_time and not stat.gone:
            record.alive = True
            ns = namespace_identity('/proc/%d/ns/net' % record.pid)
            record.in_netns = ns is not None and ns == netns_identity(record.netns)
        elif _ours(record.pid, record.start_time):
            orphaned.append(record)
    if orphaned:
        groups = _live_groups()
        for record in orphaned:
            record.leftovers = record.pid in groups
    return records


def _find_by_token(pending: Dict[str, ProcessRecord]) -> None:
    """Give each pending record (by its mark) the pid and start time of the process it names.

    Each process's stat is read before its environment: a token in the environment then
    proves the start time read belongs to the process that carries it, even if the pid was
    freed and reused in between (a reused pid has another environment, and is skipped).
    """
    holders: Dict[str, List[Tuple[int, Optional[int], int]]] = {mark: [] for mark in pending}
    for pid in _pids():
        stat = proc_stat(pid)
        if stat is None or stat.gone:
            continue
        try:
            mark = environ_mark(_read_bytes('/proc/%d/environ' % pid))
        except OSError:
            continue  # gone meanwhile, or a kernel thread
        if mark in holders:
            holders[mark].append((pid, stat.session, stat.start_time))
    for mark, found in holders.items():
        leader = token_leader(found)
        if leader is None:
            continue
        record = pending[mark]
        record.pid = leader
        record.start_time = {pid: start for pid, session, start in found}.get(leader)
        if record.start_time is None:
            # The leader is not among the holders (it exited, or overwrote its environment,
            # as programs that set their process title do). Its pid is the session of live
            # holders, which the kernel does not give to another process meanwhile: a process
            # with that pid that leads that session is the leader itself.
            stat = proc_stat(leader)
            if stat is not None and stat.session == leader:
                record.start_time = stat.start_time


def service_pids(names: Sequence[str], systemd: Optional[bool] = None) -> Dict[str, Set[int]]:
    """``{name: set(pids)}``: the processes that belong to each named service, either manager.

    For the process manager, the members of the service's process group while the record
    proves the group is ours (the leader runs with the recorded start time, or is gone and
    only its group is left), the leader found by its token when the record is pending
    included; these are what stopping the service signals. For systemd, the processes whose
    cgroup is the unit's (``nslab-NAME.service``). ``systemd`` says whether to look at
    cgroups; None: where systemd is init. Zombies are no one's: they hold no namespace.
    """
    if systemd is None:
        systemd = os.path.isdir(service_paths.UNIT_DIR)
    groups = {}
    for name, record in read_records(names).items():
        if record is not None and record.pid and (record.alive or record.leftovers):
            groups[record.pid] = name
    units = {unit_name(name): name for name in names} if systemd else {}
    processes = []
    if groups or units:
        for pid in _pids():
            stat = proc_stat(pid)
            if stat is None or stat.gone:
                continue
            cgroup = None
            if units:
                try:
                    cgroup = _read_bytes('/proc/%d/cgroup' % pid).decode('utf-8', 'replace')
                except OSError:
                    continue
            processes.append((pid, stat.pgrp, cgroup))
    found: Dict[str, Set[int]] = {name: set() for name in names}
    for name, pids in service_members(processes, groups, units).items():
        found[name] |= pids
    return found


def stop(steps: Sequence['ServiceStep'], records: Dict[str, Optional[ProcessRecord]]) -> None:
    """Stop the services of the ``stop_process`` steps and remove their records.

    SIGTERM to every group at once, up to 5 s for all of them, then SIGKILL to what is left:
    one grace period for the whole task, however many services it stops.
    """
    targets = []
    for step in steps:
        pid = step.args.get('pid')
        record = records[step.name]
        if pid and _ours(pid, record.start_time):  # type: ignore[union-attr]  # stop_process steps come from records
            targets.append(pid)
    remaining = _signal_groups(targets, signal.SIGTERM, STOP_GRACE_SECONDS)
    if remaining:
        remaining = _signal_groups(remaining, signal.SIGKILL, KILL_WAIT_SECONDS)
    if remaining:
        raise ServiceError('process groups %s did not end after SIGKILL'
                           % ', '.join(str(pid) for pid in sorted(remaining)))
    for step in steps:
        remove_file(record_path(step.name))


def _signal_groups(pgids: Sequence[int], sig: int, wait_seconds: float) -> List[int]:
    """Send ``sig`` to the groups, wait until they are gone; return those still alive."""
    return signal_and_wait(pgids, kill_group, lambda rest: _live_groups() & set(rest), sig, wait_seconds)


class Started:
    """A service just started: its process, and where its output starts in the log."""

    def __init__(self, name: str, process: subprocess.Popen, log_offset: int) -> None:
        self.name = name
        self.process = process
        self.log_offset = log_offset


def start(step: 'ServiceStep', ip_binary: str) -> Started:
    """Start the service of a ``start_process`` step detached; record it; return Started."""
    name, a = step.name, step.args
    if not os.path.isdir(STATE_DIR):
        os.makedirs(STATE_DIR, 0o755)
    if a['own_chdir'] and not os.path.isdir(a['chdir']):
        os.mkdir(a['chdir'], 0o755)
    log = log_path(name)
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
    try:
        offset = os.lseek(log_fd, 0, os.SEEK_END)
        token = os.urandom(16).hex()
        env = {'PATH': SERVICE_PATH, SERVICE_ENV: service_mark(name, token)}
        if os.environ.get('LANG'):
            env['LANG'] = os.environ['LANG']
        fields = record_fields(name, a['netns'], a['command'], a['chdir'], token)
        # The intent first: killed after the fork below, the next run finds the process by it.
        write_atomically(record_path(name), record_text(fields), mode=0o600)
        try:
            # ip execs the shell, so the pid (and its start time) stays the service's; the new
            # session outlives this module, the playbook and the connection that ran it.
            # Not run_command: it waits for its command, and a service does not end.
            process = subprocess.Popen(  # pylint: disable=consider-using-with,ansible-bad-function
                [ip_binary, 'netns', 'exec', a['netns'], SHELL, '-c', a['command']],
                stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, cwd=a['chdir'], env=env,
                close_fds=True, start_new_session=True)
        except (OSError, subprocess.SubprocessError):
            # Popen has reaped the child that failed to exec: no process for the intent to name.
            remove_file(record_path(name))
            raise
    finally:
        os.close(log_fd)
    stat = proc_stat(process.pid)
    fields.update(pid=process.pid, start_time=stat.start_time if stat else None)
    write_atomically(record_path(name), record_text(fields), mode=0o600)
    return Started(name, process, offset)


def complete_record(step: 'ServiceStep') -> None:
    """Complete the record of a ``record_process`` step (a start whose run died before it)."""
    write_atomically(record_path(step.name), step.args['text'], mode=0o600)


def exited(started: Iterable[Started]) -> List[Tuple[str, str]]:
    """For each Started whose process already ended: ``(name, message with the log's tail)``."""
    failures = []
    for item in started:
        status = item.process.poll()
        if status is None:
            continue
        how = 'exit status %d' % status if status >= 0 else 'signal %d' % -status
        failures.append((item.name, 'service %s exited right after it started (%s); the end of '
                         'its log %s:\n%s' % (item.name, how, log_path(item.name),
                                              log_tail(log_path(item.name), item.log_offset))))
    return failures


def log_tail(path: str, offset: int = 0) -> str:
    """The last lines the service wrote to ``path`` since ``offset``."""
    try:
        with open(path, 'rb') as handle:
            handle.seek(0, os.SEEK_END)
            end = handle.tell()
            handle.seek(max(offset, end - LOG_TAIL_BYTES))
            data = handle.read()
    except OSError as exc:
        return '(cannot read it: %s)' % exc
    lines = data.decode('utf-8', 'replace').splitlines()[-LOG_TAIL_LINES:]
    return '\n'.join(lines) if lines else '(empty)'
