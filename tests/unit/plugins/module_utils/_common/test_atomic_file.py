# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files written whole and durable: content, mode, and the directory flushed after the rename."""

from __future__ import annotations

import os

from ansible_collections.nslab.net.plugins.module_utils._common import atomic_file
from ansible_collections.nslab.net.plugins.module_utils._common.atomic_file import remove_file, write_atomically


def test_the_rename_is_followed_by_a_flush_of_its_directory(tmp_path, monkeypatch):
    events = []
    real_rename, real_fsync = os.rename, os.fsync

    def rename(source, target):
        events.append('rename')
        real_rename(source, target)

    def fsync(fd):
        events.append('fsync dir' if os.path.isdir('/proc/self/fd/%d' % fd) else 'fsync file')
        real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, 'rename', rename)
    monkeypatch.setattr(atomic_file.os, 'fsync', fsync)
    path = tmp_path / 'record.json'
    write_atomically(str(path), '{}\n', 0o600)
    assert events == ['fsync file', 'rename', 'fsync dir']
    assert path.read_text() == '{}\n' and path.stat().st_mode & 0o777 == 0o600
    assert [entry.name for entry in tmp_path.iterdir()] == ['record.json']  # no temporary left


def test_remove_file_says_whether_there_was_one(tmp_path):
    path = tmp_path / 'x'
    path.write_text('x')
    assert remove_file(str(path)) is True
    assert remove_file(str(path)) is False
