# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run per lab at a time: the lab's lock, who holds it, and what a waiter sees."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.nslab.net.plugins.module_utils._common.file_lock import flock_within, lock_holders
from ansible_collections.nslab.net.plugins.module_utils._lab.lock import LabLock, LockTimeout

HOLD = """
import fcntl, os, sys

fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print('held', flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding lab lab's lock until the test ends."""
    path = tmp_path / 'lab.lock'
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline() == 'held\n'
    yield proc
    proc.stdin.close()
    proc.wait(timeout=10)


def test_a_second_run_gives_up_at_its_deadline_naming_the_holder(tmp_path, holder):
    started = time.monotonic()
    with pytest.raises(LockTimeout) as caught:
        with LabLock('lab', 0.3, directory=str(tmp_path)):
            pass
    assert 0.25 < time.monotonic() - started < 5
    message = str(caught.value)
    assert 'lab lab is being changed by another run (pid %d (' % holder.pid in message
    assert 'for more than 0.3 s; nothing was changed' in message and 'lab_lock_timeout' in message


def test_a_second_run_goes_on_once_the_first_ends(tmp_path, holder):
    threading.Timer(0.2, holder.stdin.close).start()
    with LabLock('lab', 10, directory=str(tmp_path)) as lock:
        assert lock.fd is not None


def test_a_check_run_waits_for_a_run_that_changes_the_lab_but_not_for_another_check_run(tmp_path, holder):
    with pytest.raises(LockTimeout):
        with LabLock('lab', 0.1, exclusive=False, directory=str(tmp_path)):
            pass
    holder.stdin.close()
    holder.wait(timeout=10)
    with LabLock('lab', 0.1, exclusive=False, directory=str(tmp_path)):
        with LabLock('lab', 0.1, exclusive=False, directory=str(tmp_path)):
            pass


def test_a_check_run_creates_nothing_where_no_run_made_the_lab(tmp_path):
    directory = tmp_path / 'labs'
    with LabLock('lab', 0.1, exclusive=False, directory=str(directory)) as lock:
        assert lock.fd is None
    assert not directory.exists()


def test_a_run_that_waited_on_a_file_a_teardown_removed_locks_the_new_one(tmp_path):
    first = LabLock('lab', 5, directory=str(tmp_path))
    first.__enter__()
    got = []

    def second():
        with LabLock('lab', 5, directory=str(tmp_path)) as lock:
            got.append(os.fstat(lock.fd).st_ino)
            got.append(os.stat(lock.path).st_ino)

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.2)
    first.remove()
    first.__exit__(None, None, None)
    waiter.join(timeout=10)
    # It holds the file the path names now, not the unlinked one.
    assert len(got) == 2 and got[0] == got[1]


def test_the_lock_is_released_when_its_holder_dies(tmp_path, holder):
    holder.kill()
    holder.wait(timeout=10)
    with LabLock('lab', 0, directory=str(tmp_path)):
        pass


def test_lock_holders_reads_proc_locks_for_this_file_only(tmp_path):
    path = tmp_path / 'x.lock'
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT)
    try:
        st = os.fstat(fd)
        here = '%02x:%02x:%d' % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
        text = '\n'.join([
            '1: FLOCK  ADVISORY  WRITE 4242 %s 0 EOF' % here,
            '1: -> FLOCK  ADVISORY  WRITE 4343 %s 0 EOF' % here,  # a waiter
            '2: FLOCK  ADVISORY  READ  4444 %s 0 EOF' % here,
            '3: FLOCK  ADVISORY  WRITE 4545 00:01:1 0 EOF',  # another file
            '4: POSIX  ADVISORY  WRITE 4646 %s 0 EOF' % here,
        ])
        assert lock_holders(fd, text) == [4242, 4444]
        assert flock_within(fd, True, 0)
    finally:
        os.close(fd)
