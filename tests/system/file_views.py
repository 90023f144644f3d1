# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files and folders as comparable values: what the names' tests and the guard of this
machine's /etc compare before and after."""

from __future__ import annotations

import hashlib
import os
import stat

#: A folder holding more than this is compared by its first entries only.
MAX_ENTRIES = 10000


def file_view(path: str) -> tuple[str, ...] | None:
    """(kind, mode, content digest or link target) of *path* itself, or None when it does not exist."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISREG(info.st_mode):
        with open(path, "rb") as handle:
            return ("file", oct(stat.S_IMODE(info.st_mode)), hashlib.sha256(handle.read(1 << 20)).hexdigest())
    return ("dir" if stat.S_ISDIR(info.st_mode) else "other", oct(stat.S_IMODE(info.st_mode)))


def tree_view(top: str) -> dict[str, tuple[str, ...] | None] | None:
    """``{path relative to top: file_view}`` of *top* and everything under it; None when it does not exist."""
    if not os.path.lexists(top):
        return None
    view = {".": file_view(top)}
    for root, dirs, names in os.walk(top):
        for name in sorted(dirs + names):
            path = os.path.join(root, name)
            view[os.path.relpath(path, top)] = file_view(path)
        if len(view) > MAX_ENTRIES:
            break
    return view
