# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files a concurrent reader sees whole: the old content or the new, never half of it.

Records, the sysctl ledger, unit files and the controller's diagram are all read by someone
who may look at any moment (another run, systemd's daemon-reload, a person): each is written
to a hidden temporary name in the same directory, flushed to disk, then renamed over the
file, which is atomic within one file system; the directory is flushed after the rename, so
the new file is the one that survives a power cut.
"""


import errno
import os
import tempfile
from typing import Optional, Union


def write_atomically(path: str, data: Union[str, bytes], mode: int = 0o644) -> None:
    """Replace path with data (str or bytes) in one step, with permissions mode.

    The temporary name starts with a dot, so systemd never takes it for a unit and a glob
    for *.json never sees it.
    """
    directory, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(dir=directory or '.', prefix='.%s.' % name, suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data.encode('utf-8') if isinstance(data, str) else data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    sync_directory(directory or '.')


def sync_directory(path: str) -> None:
    """Flush ``path``'s entries to disk: a rename is durable only once its directory is; after a
    power cut the old file could come back otherwise (a reboot alone keeps it)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_text(path: str) -> Optional[str]:
    """The whole text of ``path``, or None when there is no such file."""
    try:
        with open(path) as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def remove_file(path: str) -> bool:
    """Remove ``path``; say whether there was one to remove."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    return True
