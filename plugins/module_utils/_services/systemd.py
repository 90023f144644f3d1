# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd manager of netns_service: runtime unit files and ``systemctl``.

Units live in /run/systemd/system, so they vanish on reboot together with the namespaces
they run in. systemd joins the namespace itself (``NetworkNamespacePath=``, systemd 242 or
later), supervises and restarts the service, and keeps its output in the journal.

Every systemctl call goes through the module's ``run_command`` with an argument list, never
a shell. The state of all units of a task is read with one ``systemctl show``.
"""


import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.nslab.net.plugins.module_utils._services.paths import UNIT_DIR, unit_name, unit_path
from ansible_collections.nslab.net.plugins.module_utils._services.plan import UnitState
from ansible_collections.nslab.net.plugins.module_utils._services.processes import (
    ServiceError, namespace_identity, netns_identity)
from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import read_text, remove_file, write_atomically

if TYPE_CHECKING:
    from ansible_collections.nslab.net.plugins.module_utils._services.plan import ServiceStep

JOURNAL_TAIL_LINES = 15
# One systemctl show per this many units keeps the argument list far below ARG_MAX.
SHOW_BATCH = 256
# LoadState and NeedDaemonReload tell a file systemd has not (re)loaded: a run killed between
# writing a unit and daemon-reload leaves one, and restarting it would run the old version.
_SHOWN = ('Id', 'LoadState', 'ActiveState', 'SubState', 'MainPID', 'NeedDaemonReload')


def booted() -> bool:
    """Whether systemd is the init system, as sd_booted(3) decides it."""
    return os.path.isdir(UNIT_DIR)


class Systemd:
    """systemctl and the unit files, for one module run."""

    def __init__(self, run_command: Callable[[List[str]], Tuple[int, str, str]], systemctl: str,
                 journalctl: Optional[str] = None) -> None:
        self._run_command = run_command
        self.systemctl = systemctl
        self.journalctl = journalctl
        self.shown: Dict[str, Dict[str, str]] = {}

    def _run(self, argv: List[str]) -> str:
        rc, out, err = self._run_command(argv)
        if rc != 0:
            raise ServiceError('%s failed (exit status %d): %s'
                               % (' '.join(argv), rc, (err or out).strip()))
        return out

    def read_units(self, names: Sequence[str]) -> Dict[str, Optional[UnitState]]:
        """Map each name to its UnitState, or None when it has no unit file."""
        texts = {name: read_text(unit_path(name)) for name in names}
        present = [name for name in names if texts[name] is not None]
        shown = self.shown = self.show(present)
        units: Dict[str, Optional[UnitState]] = {name: None for name in names}
        for name in present:
            props = shown.get(unit_name(name), {})
            unit = UnitState(name, texts[name], props.get('ActiveState', 'inactive'),  # type: ignore[arg-type]  # present: a text
                             _int(props.get('MainPID')),
                             need_reload=(props.get('LoadState', 'loaded') != 'loaded'
                                          or props.get('NeedDaemonReload') == 'yes'))
            if unit.main_pid > 0:
                netns = unit.described()['netns']
                ns = namespace_identity('/proc/%d/ns/net' % unit.main_pid)
                unit.in_netns = ns is not None and ns == netns_identity(netns)
            units[name] = unit
        return units

    def show(self, names: Sequence[str]) -> Dict[str, Dict[str, str]]:
        """``{unit name: {property: value}}`` of the services' units."""
        found = {}
        for first in range(0, len(names), SHOW_BATCH):
            units = [unit_name(name) for name in names[first:first + SHOW_BATCH]]
            out = self._run([self.systemctl, 'show', '--property=' + ','.join(_SHOWN), '--'] + units)
            # One block of KEY=VALUE lines per unit, blocks separated by an empty line.
            for block in out.strip().split('\n\n'):
                props = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
                if props.get('Id'):
                    found[props['Id']] = props
        return found

    def apply(self, step: 'ServiceStep') -> None:
        """Carry out one systemd step (see plan.ServiceStep)."""
        name = step.name
        if step.op == 'write_unit':
            write_atomically(unit_path(name), step.args['text'])
        elif step.op == 'remove_unit':
            remove_file(unit_path(name))
        elif step.op == 'daemon_reload':
            self._run([self.systemctl, 'daemon-reload'])
        else:
            if step.args.get('make_dir') and not os.path.isdir(step.args['make_dir']):
                os.makedirs(step.args['make_dir'], 0o755)
            verb = {'stop_unit': 'stop', 'reset_failed': 'reset-failed', 'restart_unit': 'restart'}[step.op]
            self._run([self.systemctl, verb, '--', unit_name(name)])

    def not_running(self, names: Sequence[str]) -> List[Tuple[str, str]]:
        """For each service of ``names`` whose unit is not running: ``(name, message)``."""
        failures = []
        units = self.read_units(list(names))
        for name in names:
            unit = units[name]
            if unit is not None and unit.running:
                continue
            props = self.shown.get(unit_name(name), {})
            failures.append((name, 'service %s is not running right after it started (%s %s); the '
                             'end of its journal:\n%s' % (name, props.get('ActiveState', '?'),
                                                          props.get('SubState', '?'),
                                                          self.journal_tail(name))))
        return failures

    def journal_tail(self, name: str) -> str:
        if not self.journalctl:
            return '(journalctl not found)'
        rc, out, err = self._run_command([self.journalctl, '--no-pager', '-o', 'cat', '-n',
                                          str(JOURNAL_TAIL_LINES), '-u', unit_name(name)])
        if rc != 0:
            return '(journalctl failed: %s)' % (err or out).strip()
        return out.strip() or '(empty)'


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
