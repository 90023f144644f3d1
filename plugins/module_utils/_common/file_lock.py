# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""flock() with a deadline, and who holds a lock: what the xtables lock and a lab's lock share.

An flock belongs to the open file, so the kernel releases it when the process that holds it
dies, however it dies (SIGKILL, a lost connection): a lock is never left behind.
"""


import errno
import fcntl
import os
import time
from typing import List

POLL_SECONDS = 0.05


def flock_within(fd: int, exclusive: bool, seconds: float) -> bool:
    """Take an flock on ``fd``, waiting at most ``seconds``; say whether it was taken."""
    deadline = time.monotonic() + seconds
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    while True:
        try:
            fcntl.flock(fd, mode)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)


def lock_holders(fd: int, locks_text: str = '') -> List[int]:
    """The pids holding an flock on the file of ``fd`` (read from /proc/locks), without this process."""
    st = os.fstat(fd)
    if not locks_text:
        try:
            with open('/proc/locks') as handle:
                locks_text = handle.read()
        except OSError:
            return []
    wanted = '%02x:%02x:%d' % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    holders = []
    for line in locks_text.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 1234 00:19:567 0 EOF"; a waiter's line has "->" after the number.
        words = line.split()
        if len(words) >= 6 and words[1] == 'FLOCK' and '->' not in words and words[5] == wanted:
            pid = int(words[4])
            if pid != os.getpid() and pid not in holders:
                holders.append(pid)
    return holders
