# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a service's processes are known as its own: the token in their environment, the
record that holds it, the session they lead, the unit cgroups they run in.
"""


import json
import re
from typing import Any, Dict, Iterable, Optional, Sequence, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._services.paths import log_path

# The process manager's service carries NAME:TOKEN in this variable (the token is random
# and written to the record before the process is spawned), so a run killed between the
# spawn and the record still leaves a way to find the process it started.
SERVICE_ENV = 'NSLAB_SERVICE'
_TOKEN = re.compile(r'[0-9a-f]{16,64}\Z')


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
