# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a lab keeps the record of what it made: ``/run/nslab/labs/NAME.json``.

The record lives in /run, as long as the namespaces, links and rules it lists (a reboot
takes both). It is written before a run changes anything (what the run may create is
claimed first) and again when the run has finished, so whatever instant a run dies at, the
record names everything the lab may have made. Its content is planned in
:mod:`ownership`; this file only reads and writes it.
"""


import errno
import json
import os
from typing import Any, Dict, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import remove_file, write_atomically

RECORD_DIR = '/run/nslab/labs'


class RecordError(Exception):
    """A record cannot be read or written."""


def record_path(lab: str, directory: str = RECORD_DIR) -> str:
    return os.path.join(directory, '%s.json' % lab)


def _read(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise RecordError('cannot read %s: %s' % (path, exc))
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RecordError('%s is not a lab record; remove it to let the lab forget what it made '
                          '(it will then neither change nor remove those objects)' % path)
    return data


def load_records(directory: str = RECORD_DIR) -> Dict[str, Dict[str, Any]]:
    """Every lab's record on this host: ``{lab name: record dict}``."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return {}
    records = {}
    for name in names:
        if name.endswith('.json') and not name.startswith('.'):
            data = _read(os.path.join(directory, name))
            if data is not None:
                records[name[:-len('.json')]] = data
    return records


def save_record(lab: str, record: Dict[str, Any], directory: str = RECORD_DIR) -> None:
    """Write ``record`` atomically (a reader sees the old one or the new one, never half)."""
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        write_atomically(record_path(lab, directory), json.dumps(record, indent=1, sort_keys=True) + '\n')
    except OSError as exc:
        raise RecordError('cannot write %s: %s' % (record_path(lab, directory), exc))


def delete_record(lab: str, directory: str = RECORD_DIR) -> None:
    """Remove the lab's record, and the directory once no lab is left."""
    try:
        remove_file(record_path(lab, directory))
    except OSError as exc:
        raise RecordError('cannot remove %s: %s' % (record_path(lab, directory), exc))
    try:
        os.rmdir(directory)
    except OSError:
        pass  # other labs' records, or already gone
