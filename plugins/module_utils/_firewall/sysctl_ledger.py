# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which kernel settings the firewall modules changed, so the last owner can put them back.

The ledger is ``/run/nslab/sysctls.json``: per setting name (as sysctl prints it)
``{"before": VALUE, "set": VALUE, "owners": [COMMENT, ...]}``, the value the setting had
before we first changed it, the value we set, and the owners (the rule comments of the
firewall modules, ``nslab:masquerade:br0``, ``nslab:publish:br0``) that need it. It lives on
/run, a tmpfs, because the settings do not outlive a reboot either.

A setting is in the ledger only while we hold it changed: where the host already had the
value we want, we do not own it and never put anything back. When the last owner lets go,
the setting goes back to ``before``, unless somebody changed it since we set it (then it is
theirs and stays as it is). :func:`plan_ledger` decides all that, without I/O; the rest of
this file reads and writes the file.
"""


import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import remove_file, write_atomically

LEDGER_DIR = '/run/nslab'
LEDGER_PATH = os.path.join(LEDGER_DIR, 'sysctls.json')


class LedgerError(Exception):
    """The ledger file cannot be read or written."""


class LedgerPlan:
    """What :func:`plan_ledger` decided.

    ``writes``: ``(name, value)`` to write, in order; ``ledger``: the ledger afterwards;
    ``released``: names whose last owner let go in this run (put back, or left as somebody
    else set them); ``warnings``: why a setting was not put back.
    """

    def __init__(self, writes: List[Tuple[str, str]], ledger: Dict[str, Dict[str, Any]], released: List[str], warnings: List[str]) -> None:
        self.writes = writes
        self.ledger = ledger
        self.released = released
        self.warnings = warnings


def _copy(ledger: Mapping[str, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {name: dict(before=entry['before'], set=entry['set'], owners=list(entry['owners']))
            for name, entry in ledger.items()}


def plan_ledger(ledger: Mapping[str, Mapping[str, Any]], current: Mapping[str, Optional[str]], owners: Iterable[str],
                wanted: Iterable[Tuple[str, object, Sequence[str]]]) -> LedgerPlan:
    """Plan the task's kernel settings against the ledger; no I/O, ``ledger`` is not modified.

    ``current`` maps setting names to their values now (text), None where the kernel does
    not have the setting (an interface that is gone); it must name every setting of the
    ledger and of ``wanted``. ``owners`` are all the owners the task manages.
    ``wanted`` lists ``(name, value, holders)``: the value the setting must have and which
    of the task's owners need it. Any of ``owners`` that is recorded for a setting but does
    not hold it in ``wanted`` lets it go: that is how state=absent releases a setting (its
    task wants nothing), and how a present task releases what it no longer needs.
    """
    new = _copy(ledger)
    writes, released, warnings = [], [], []
    for name in sorted(new):
        if current.get(name) is None:
            del new[name]  # its interface is gone, and the setting with it
    held: Dict[str, Set[str]] = {}
    for name, value, holders in wanted:
        value, now = str(value), current.get(name)
        if now is None or not holders:
            continue  # a setting the kernel lacks is never written; the caller fails where it matters
        held.setdefault(name, set()).update(holders)
        if now != value and (name, value) not in writes:
            writes.append((name, value))
        entry = new.get(name)
        if entry is None:
            if now != value:
                new[name] = dict(before=now, set=value, owners=sorted(set(holders)))
            # else the host had it so already: not ours, nothing to put back later
        else:
            entry['set'] = value
            entry['owners'] = sorted(set(entry['owners']) | set(holders))
    managed = set(owners)
    for name in sorted(new):
        entry = new[name]
        letting_go = (set(entry['owners']) & managed) - held.get(name, set())
        if not letting_go:
            continue
        entry['owners'] = sorted(set(entry['owners']) - letting_go)
        if entry['owners']:
            continue
        del new[name]
        released.append(name)
        now = current[name]
        if now == entry['before']:
            continue
        if now == entry['set']:
            writes.append((name, entry['before']))
        else:
            warnings.append('%s is %s, not the %s nslab set, so somebody else changed it: left as it is'
                            ' (it was %s before nslab changed it)' % (name, now, entry['set'], entry['before']))
    return LedgerPlan(writes, new, released, warnings)


def _network_setting(name: str) -> bool:
    """Whether ``name`` is a sysctl name under net. that stays inside /proc/sys/net."""
    parts = [part.replace('/', '.') for part in name.split('.')]
    return parts[0] == 'net' and len(parts) > 1 and all(part not in ('', '.', '..') for part in parts)


def _valid(ledger: object) -> bool:
    if not isinstance(ledger, dict):
        return False
    for name, entry in ledger.items():
        if not isinstance(name, str) or not _network_setting(name):
            return False
        if not isinstance(entry, dict) or set(entry) != {'before', 'set', 'owners'}:
            return False
        texts = [name, entry['before'], entry['set']]
        if not isinstance(entry['owners'], list):
            return False
        if not all(isinstance(text, str) for text in texts + entry['owners']):
            return False
    return True


def load_ledger(path: str = LEDGER_PATH) -> Dict[str, Dict[str, Any]]:
    """The ledger as a dict; empty where there is no file."""
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as exc:
        if not os.path.exists(path):
            return {}
        raise LedgerError('cannot read %s: %s' % (path, exc))
    try:
        ledger = json.loads(text)
    except ValueError:
        ledger = None
    if not _valid(ledger):
        raise LedgerError('%s is not a ledger of kernel settings (per setting name: before, set, owners);'
                          ' remove it to start afresh, knowing that the settings it recorded will then not'
                          ' be put back' % path)
    return ledger


def save_ledger(ledger: Mapping[str, Mapping[str, Any]], path: str = LEDGER_PATH) -> None:
    """Write the ledger atomically (temporary file, then rename); no entries: remove the file.

    The directory is created mode 0755 and removed again once it is empty, so a host whose
    settings are all put back has no trace of the ledger.
    """
    directory = os.path.dirname(path)
    try:
        if not ledger:
            remove_file(path)
            try:
                os.rmdir(directory)
            except OSError:
                pass  # not empty, or already gone
            return
        if not os.path.isdir(directory):
            os.mkdir(directory, 0o755)
            os.chmod(directory, 0o755)  # whatever the umask
        write_atomically(path, json.dumps(ledger, indent=2, sort_keys=True) + '\n')
    except OSError as exc:
        raise LedgerError('cannot write %s: %s' % (path, exc))
