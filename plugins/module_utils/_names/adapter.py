# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and writing the namespaces' name files (``/etc/netns/NS/hosts``, ``resolv.conf``)."""


import errno
import os
from typing import Dict, Iterable, List, Optional, Sequence

from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import read_text, remove_file, write_atomically
from ansible_collections.nslab.net.plugins.module_utils._common.linux_limits import NETNS_ETC_DIR, NETNS_ETC_FILES
from ansible_collections.nslab.net.plugins.module_utils._names.plan import NameOp
from ansible_collections.nslab.net.plugins.module_utils._names.resolver import HOST_RESOLV_CONF, SYSTEMD_RESOLV_CONF

HOST_HOSTS = '/etc/hosts'


class NamesError(Exception):
    """A name file cannot be read or written."""


def read_host_files() -> Dict[str, Optional[str]]:
    """The host's hosts and resolv.conf files (and systemd-resolved's upstream one), as text."""
    files = {}
    for key, path in (('hosts', HOST_HOSTS), ('resolv_conf', HOST_RESOLV_CONF),
                      ('systemd_resolv_conf', SYSTEMD_RESOLV_CONF)):
        try:
            files[key] = read_text(path)
        except (OSError, UnicodeDecodeError):
            files[key] = None
    return files


def read_name_files(directory: str = NETNS_ETC_DIR) -> Dict[str, Optional[str]]:
    """``{path: text}`` of every hosts and resolv.conf file under ``directory``/*/."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return {}
    found = {}
    for netns in names:
        for name in NETNS_ETC_FILES:
            path = os.path.join(directory, netns, name)
            try:
                text = read_text(path)
            except UnicodeDecodeError:
                text = ''  # not ours: ours are text
            except OSError as exc:
                if exc.errno in (errno.ENOTDIR, errno.EISDIR):
                    text = ''
                else:
                    raise NamesError('cannot read %s: %s' % (path, exc))
            if text is not None:
                found[path] = text
    return found


def missing_directories(paths: Iterable[str]) -> List[str]:
    """Those of ``paths`` that are not directories now."""
    return sorted(path for path in paths if not os.path.isdir(path))


def _write_in_place(path: str, text: str) -> None:
    """Rewrite an existing file keeping its inode: a running process bound it over its /etc
    file (``ip netns exec``, a unit's BindReadOnlyPaths=), and would not see a new inode.

    Written over from the start and cut after: a write that fails half-way (a full disk)
    leaves a file that still starts with the lab's marker, which the next run owns and rewrites.
    """
    data = text.encode('utf-8')
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def apply_names(ops: Sequence[NameOp]) -> None:
    for op in ops:
        try:
            if op.op == 'write':
                directory = os.path.dirname(op.path)
                if os.path.exists(op.path):
                    _write_in_place(op.path, op.text or '')
                else:
                    if not os.path.isdir(directory):
                        os.makedirs(directory, 0o755)
                    write_atomically(op.path, op.text or '', 0o644)
            elif op.op == 'remove':
                remove_file(op.path)
            else:
                _rmdir_if_empty(op.path)
        except OSError as exc:
            raise NamesError('cannot %s %s: %s' % (op.op, op.path, exc))


def _rmdir_if_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
            raise


def command(op: NameOp) -> str:
    """The equivalent shell command of ``op``, for the module's ``commands``."""
    if op.op == 'write':
        return 'mkdir -p %s && cat > %s  # %d lines' % (
            os.path.dirname(op.path), op.path, len((op.text or '').splitlines()))
    if op.op == 'remove':
        return 'rm -f %s' % op.path
    return 'rmdir --ignore-fail-on-non-empty %s' % op.path


def commands(ops: Sequence[NameOp]) -> List[str]:
    return [command(op) for op in ops]
