# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run per lab at a time: an flock on ``/run/nslab/labs/LAB.lock``, beside the record.

Two runs of one lab that plan from the same record and kernel would both create what is
missing (``File exists``) and each write a record without the other's objects, which the
lab would then refuse to touch as not its own. So a run takes the lab's lock before it
reads anything and holds it to the end; a second run waits for it (``lock_timeout``), then
plans against what the first left. A check run changes nothing: it takes the lock shared,
so it waits for a run that changes the lab but not for other check runs, and it takes none
where the lab has no lock file yet (it would have to create one).

The lock file goes with the lab's record at teardown. A run that waited on the file a
teardown unlinked holds a lock nobody else can see: after taking it, a run checks that the
path still names the file it locked, and otherwise locks the new one.
"""


import os
from typing import Any, Optional

from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import remove_file
from ansible_collections.nslab.net.plugins.module_utils._common.file_lock import flock_within, lock_holders
from ansible_collections.nslab.net.plugins.module_utils._lab.record import RECORD_DIR


class LockTimeout(Exception):
    """Another run held the lab's lock for longer than the run would wait."""


class LabLock:
    """The lock of lab ``lab`` (a context manager)."""

    def __init__(self, lab: str, timeout: float, exclusive: bool = True, directory: str = RECORD_DIR) -> None:
        self.path = os.path.join(directory, '%s.lock' % lab)
        self.lab = lab
        self.timeout = timeout
        self.exclusive = exclusive
        self.fd: Optional[int] = None

    def __enter__(self) -> 'LabLock':
        if self.exclusive:
            os.makedirs(os.path.dirname(self.path), 0o755, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if self.exclusive else 0), 0o600)
            except FileNotFoundError:
                return self  # a check run, and no run has made the lab yet
            if not flock_within(fd, self.exclusive, self.timeout):
                holders = lock_holders(fd)
                os.close(fd)
                raise LockTimeout('lab %s is being changed by another run (%s), which held its lock %s for more than '
                                  '%s s; nothing was changed: run again once it has finished, or raise lock_timeout '
                                  '(lab_lock_timeout)' % (self.lab, _holders_text(holders), self.path, _seconds(self.timeout)))
            if _same_file(fd, self.path):
                self.fd = fd
                return self
            os.close(fd)  # a teardown removed it while this run waited

    def remove(self) -> None:
        """Unlink the lock file, still holding it: the lab is gone (a teardown)."""
        remove_file(self.path)

    def __exit__(self, *exc_info: Any) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _same_file(fd: int, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _holders_text(pids: Any) -> str:
    if not pids:
        return 'pid unknown'
    return ', '.join('pid %d%s' % (pid, _command(pid)) for pid in pids)


def _command(pid: int) -> str:
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            words = handle.read().split(b'\0')
    except OSError:
        return ''
    text = ' '.join(word.decode('utf-8', 'replace') for word in words if word)
    return ' (%s)' % (text[:80] + '...' if len(text) > 80 else text) if text else ''


def _seconds(value: float) -> str:
    return ('%d' % value) if float(value).is_integer() else ('%s' % value)
