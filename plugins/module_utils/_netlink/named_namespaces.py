# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named network namespaces as ``ip netns`` keeps them: bind mounts on files in /run/netns.

Done in-process with unshare/setns/mount (ctypes) instead of forking ``ip`` or letting
pyroute2 fork a helper per namespace: a fork costs several milliseconds, and a lab has
hundreds of namespaces.
"""


import ctypes
import errno
import os
import signal
from typing import Dict, Iterable, List

from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import NETNS_RUN_DIR
from ansible_collections.nslab.net.plugins.module_utils._common.signals import kill_process, signal_and_wait

RUN_DIR = NETNS_RUN_DIR
CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SHARED = 1 << 20
MNT_DETACH = 2
KILL_GRACE_SECONDS = 5.0

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, '%s: %s' % (what, os.strerror(err)))


def setns(fd: int) -> None:
    """Move the calling thread into the network namespace behind ``fd``."""
    _check(_libc.setns(fd, CLONE_NEWNET), 'setns')


def own_namespace_fd() -> int:
    """An fd of the calling thread's current network namespace (the module's host namespace)."""
    return os.open('/proc/thread-self/ns/net', os.O_RDONLY | os.O_CLOEXEC)


def path_of(name: str) -> str:
    return os.path.join(RUN_DIR, name)


def _nsfs_device() -> int:
    return os.stat('/proc/self/ns/net').st_dev


def status(name: str) -> str:
    """'present' for a live namespace, 'stale' for a file with no namespace mounted, 'absent'."""
    try:
        st = os.stat(path_of(name))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return 'absent'
        raise
    return 'present' if st.st_dev == _nsfs_device() else 'stale'


def inodes(names: Iterable[str]) -> Dict[str, int]:
    """``{name: inode}`` of the live namespaces among ``names``: an nsfs inode names one
    namespace for as long as it exists, and one made again under the same name gets another."""
    device = _nsfs_device()
    found = {}
    for name in names:
        try:
            st = os.stat(path_of(name))
        except OSError:
            continue
        if st.st_dev == device:
            found[name] = st.st_ino
    return found


def listed() -> List[str]:
    """The names of the live namespaces in /run/netns, sorted."""
    try:
        names = os.listdir(RUN_DIR)
    except OSError:
        return []
    return sorted(name for name in names if status(name) == 'present')


def _make_run_dir_shared() -> None:
    # As ip-netns does: /run/netns must be a shared mount point so that namespaces created
    # later also appear in mount namespaces cloned from this one (e.g. by systemd units).
    if not os.path.isdir(RUN_DIR):
        os.makedirs(RUN_DIR, 0o755)
    if _libc.mount(b'none', RUN_DIR.encode(), b'none', MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, 'mount --make-shared %s' % RUN_DIR)
    _check(_libc.mount(RUN_DIR.encode(), RUN_DIR.encode(), b'none', MS_BIND | MS_REC, None),
           'mount --bind %s' % RUN_DIR)
    _check(_libc.mount(b'none', RUN_DIR.encode(), b'none', MS_SHARED | MS_REC, None),
           'mount --make-shared %s' % RUN_DIR)


def create(name: str, replace_stale: bool = False) -> None:
    """Create the named namespace, like ``ip netns add``; the calling thread ends where it began."""
    _make_run_dir_shared()
    path = path_of(name)
    if replace_stale:
        os.unlink(path)
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    home = own_namespace_fd()
    try:
        _check(_libc.unshare(CLONE_NEWNET), 'unshare(CLONE_NEWNET)')
        try:
            _check(_libc.mount(b'/proc/thread-self/ns/net', path.encode(), b'none', MS_BIND, None),
                   'mount --bind namespace on %s' % path)
        finally:
            setns(home)
    except OSError:
        os.unlink(path)
        raise
    finally:
        os.close(home)


def delete(name: str) -> None:
    """Remove the named namespace, like ``ip netns delete``."""
    path = path_of(name)
    if status(name) == 'present':
        _check(_libc.umount2(path.encode(), MNT_DETACH), 'umount %s' % path)
    os.unlink(path)


def processes_in(names: Iterable[str]) -> Dict[str, Dict[int, str]]:
    """Map each name of a live namespace in ``names`` to ``{pid: command}`` running inside it.

    One pass over /proc for all names, instead of one per namespace.
    """
    device = _nsfs_device()
    wanted = {(device, inode): name for name, inode in inodes(names).items()}
    found: Dict[str, Dict[int, str]] = {name: {} for name in wanted.values()}
    if not wanted:
        return found
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            st = os.stat('/proc/%s/ns/net' % pid)
            name = wanted.get((st.st_dev, st.st_ino))
            if name is not None:
                with open('/proc/%s/comm' % pid) as comm:
                    found[name][int(pid)] = comm.read().strip()
        except OSError:
            continue  # the process ended while we looked, or is a kernel thread
    return found


def kill(name: str, pids: Iterable[int]) -> None:
    """Stop ``pids`` inside namespace ``name``: SIGTERM, then SIGKILL after a grace period.

    Only processes still inside that namespace are signalled, so a pid reused meanwhile by
    an unrelated process is left alone.
    """
    alive = pids
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = signal_and_wait(_still_inside(name, alive), kill_process, lambda rest: _still_inside(name, rest),
                                sig, KILL_GRACE_SECONDS)
        if not alive:
            return
    raise OSError(errno.EBUSY, 'processes %s in namespace %s did not stop' % (alive, name))


def _still_inside(name: str, pids: Iterable[int]) -> List[int]:
    inside = processes_in([name]).get(name, {})
    return [pid for pid in pids if pid in inside]
