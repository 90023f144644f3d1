# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the system tests: every test runs in a sandbox world.

``world`` gives each test a fresh :class:`nslab_sandbox.World`. The session
fixture snapshots this machine's own network state before the first system
test and fails the run if it differs after the last one; it also skips the
whole directory where sandbox worlds cannot be made (not root, no util-linux).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

# pylint: disable-next=wrong-import-position  # needs TOOLS on sys.path first
from nslab_sandbox import World, host_snapshot  # noqa: E402

_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"


def missing_prerequisite() -> str | None:
    """Why sandbox worlds cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "system tests need root: they create network, mount and PID namespaces"
    missing = [tool for tool in ("unshare", "nsenter", "ip")
               if not shutil.which(tool) and not shutil.which(tool, path=_SBIN_PATH)]
    if missing:
        return f"system tests need {', '.join(missing)} (util-linux, iproute2)"
    return None


@pytest.fixture(scope="session", autouse=True)
def machine_untouched() -> Iterator[host_snapshot.Snapshot]:
    """Skip without prerequisites; fail the session if the machine's network changed."""
    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)
    before = host_snapshot.snapshot()
    yield before
    after = host_snapshot.snapshot()
    if after != before:
        pytest.fail("the system tests changed this machine's own network state:\n"
                    + host_snapshot.diff(before, after), pytrace=False)


@pytest.fixture
def world() -> Iterator[World]:
    """A started sandbox world, stopped after the test."""
    with World() as started:
        yield started
