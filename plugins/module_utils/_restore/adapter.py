# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore files on the host (see :mod:`plan`): read them, write them, find the code.

The code is the zip this very process imports its module_utils from: Ansible's AnsiballZ
wrapper writes it to a temporary file and puts it first on ``sys.path`` (ansible-core 2.15 to
2.19 alike), and at boot it is the stored ``.pyz``. Its digest covers each member's name and
CRC but not the members the wrappers add (``sitecustomize.py``, which names the temporary
file, and our ``__main__.py``), so the same collection gives the same digest on every run.
"""


import errno
import hashlib
import io
import os
import zipfile
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import read_text, remove_file, write_atomically
from ansible_collections.nslab.net.plugins.module_utils._restore import boot
from ansible_collections.nslab.net.plugins.module_utils._restore.plan import (
    MARKER, RESTORE_DIR, SYSTEMD_DIR, TEMPLATE, WANTED_BY, instance)

#: Members a wrapper adds around the code, left out of the digest and of the stored copy.
_WRAPPER_MEMBERS = ('sitecustomize.py', '__main__.py')


class RestoreError(Exception):
    """The restore files cannot be read or written."""


class Paths:
    """Where a host keeps the restore files; the tests point it into a scratch directory."""

    def __init__(self, restore_dir: str = RESTORE_DIR, systemd_dir: str = SYSTEMD_DIR) -> None:
        self.restore_dir = restore_dir
        self.systemd_dir = systemd_dir

    def declaration(self, lab: str) -> str:
        return os.path.join(self.restore_dir, '%s.json' % lab)

    def code(self, lab: str) -> str:
        return os.path.join(self.restore_dir, '%s.pyz' % lab)

    @property
    def template(self) -> str:
        return os.path.join(self.systemd_dir, TEMPLATE)

    def enabled_link(self, lab: str) -> str:
        return os.path.join(self.systemd_dir, '%s.wants' % WANTED_BY, instance(lab))


def running_code() -> Optional[str]:
    """The zip this process runs from, or None when it does not run from one (tests)."""
    archive = getattr(getattr(boot, '__loader__', None), 'archive', None)
    return archive if archive and zipfile.is_zipfile(archive) else None


def code_digest(path: str) -> str:
    """``sha256:...`` of the code in the zip ``path`` (names and CRCs; see the module's doc)."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda item: item.filename):
            if info.filename not in _WRAPPER_MEMBERS:
                digest.update(('%s %08x %d\n' % (info.filename, info.CRC, info.file_size)).encode('utf-8'))
    return 'sha256:' + digest.hexdigest()


def read_template(paths: Paths, lab: str) -> Dict[str, Any]:
    """The template unit's text, and whether the lab wrote it (the preflight needs no more)."""
    try:
        template = read_text(paths.template)
    except OSError as exc:
        raise RestoreError('cannot read the restore files of lab %s: %s' % (lab, exc))
    return dict(template=template, template_ours=template is not None and template.startswith(MARKER))


def read_restore(paths: Paths, lab: str) -> Dict[str, Any]:
    """What the host holds of ``lab``'s restore files (see plan.plan_restore)."""
    found = read_template(paths, lab)
    try:
        code = paths.code(lab)
        others = sorted(name[:-len('.json')] for name in _listdir(paths.restore_dir)
                        if name.endswith('.json') and not name.startswith('.') and name != '%s.json' % lab)
        return dict(declaration=read_text(paths.declaration(lab)),
                    code=code_digest(code) if os.path.exists(code) else None,
                    template=found['template'], template_ours=found['template_ours'],
                    enabled=os.path.islink(paths.enabled_link(lab)), other_labs=others)
    except (OSError, zipfile.BadZipfile) as exc:
        raise RestoreError('cannot read the restore files of lab %s: %s' % (lab, exc))


def apply_restore(paths: Paths, ops: List[Dict[str, Any]], source: Optional[str],
                  run_command: Callable[[List[str]], Tuple[int, str, str]], systemctl: Optional[str]) -> None:
    """Carry out plan.plan_restore's operations; ``source`` is the zip to store as the code."""
    for op in ops:
        try:
            _apply(paths, op, source, run_command, systemctl)
        except (OSError, zipfile.BadZipfile) as exc:
            raise RestoreError('%s: %s' % (command(paths, op), exc))


def _apply(paths: Paths, op: Dict[str, Any], source: Optional[str],
           run_command: Callable[[List[str]], Tuple[int, str, str]], systemctl: Optional[str]) -> None:
    name = op['op']
    if name == 'write_code':
        if source is None:
            raise RestoreError('the module does not run from an AnsiballZ zip, so it has no code to store')
        _make_dir(paths.restore_dir, 0o700)
        write_atomically(paths.code(op['lab']), _zipapp(source), mode=0o600)
    elif name == 'write_declaration':
        _make_dir(paths.restore_dir, 0o700)
        write_atomically(paths.declaration(op['lab']), op['text'], mode=0o600)
    elif name == 'write_template':
        write_atomically(paths.template, op['text'])
    elif name == 'enable':
        link = paths.enabled_link(op['lab'])
        _make_dir(os.path.dirname(link), 0o755)
        # What `systemctl enable` makes, without needing a running systemd.
        os.symlink(paths.template, link)
    elif name == 'disable':
        if systemctl:
            # After a boot's restore the oneshot unit stays active (RemainAfterExit) until it is
            # stopped: a teardown leaves it inactive, as it was before the lab. 5: not loaded.
            rc, out, err = run_command([systemctl, 'stop', '--', instance(op['lab'])])
            if rc not in (0, 5):
                raise RestoreError('systemctl stop %s failed (exit status %d): %s'
                                   % (instance(op['lab']), rc, (err or out).strip()))
        remove_file(paths.enabled_link(op['lab']))
    elif name == 'daemon_reload':
        if systemctl:
            rc, out, err = run_command([systemctl, 'daemon-reload'])
            if rc != 0:
                raise RestoreError('systemctl daemon-reload failed (exit status %d): %s' % (rc, (err or out).strip()))
    else:
        path = dict(remove_declaration=lambda: paths.declaration(op['lab']),
                    remove_code=lambda: paths.code(op['lab']), remove_template=lambda: paths.template)[name]()
        remove_file(path)
        # A run killed inside write_atomically leaves its temporary file (never run: the unit
        # names only the final files); it goes with the file it was to become.
        directory, base = os.path.split(path)
        for leftover in _listdir(directory):
            if leftover.startswith('.%s.' % base) and leftover.endswith('.tmp'):
                remove_file(os.path.join(directory, leftover))
        if name in ('remove_declaration', 'remove_code'):
            _remove_empty_dirs(paths.restore_dir)


def command(paths: Paths, op: Dict[str, Any]) -> str:
    """The equivalent shell command of an operation, for the module's ``commands``."""
    name = op['op']
    lab = op.get('lab', '')
    return dict(
        write_code='cp <this run of lab_network> %s' % paths.code(lab),
        write_declaration='cat > %s  # the declaration of this run' % paths.declaration(lab),
        write_template='cat > %s' % paths.template,
        enable='systemctl enable %s' % instance(lab),
        daemon_reload='systemctl daemon-reload',
        disable='systemctl disable --now %s' % instance(lab),
        remove_declaration='rm %s' % paths.declaration(lab),
        remove_code='rm %s' % paths.code(lab),
        remove_template='rm %s' % paths.template,
    )[name]


def _zipapp(source: str) -> bytes:
    """The code of ``source`` as a zip application that runs :func:`boot.main`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(source) as given, zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as stored:
        for info in given.infolist():
            if info.filename not in _WRAPPER_MEMBERS:
                stored.writestr(info, given.read(info.filename))
        stored.writestr('__main__.py', boot.ZIPAPP_MAIN)
    return buffer.getvalue()


def _listdir(path: str) -> List[str]:
    try:
        return os.listdir(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return []
        raise


def _make_dir(path: str, mode: int) -> None:
    if not os.path.isdir(path):
        os.makedirs(path, mode)


def _remove_empty_dirs(path: str) -> None:
    """The restore directory and its parent /var/lib/nslab go with the last lab's files."""
    for directory in (path, os.path.dirname(path)):
        try:
            os.rmdir(directory)
        except OSError:
            return  # other labs' files, or not ours to judge
