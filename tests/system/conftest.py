# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the system tests: every test runs in a sandbox world.

``world`` gives each test a fresh :class:`nslab_sandbox.World`, ``fleet`` three
hosts in it that Ansible reaches over SSH (:mod:`nslab_sandbox.fleet`). The session
fixture snapshots this machine's own network state before the first system
test and fails the run if it differs after the last one; it also skips the
whole directory where sandbox worlds cannot be made (not root, a tool missing).
Around every test, this machine's /etc/netns and /etc/resolv.conf must stay as they were
(the worlds' /etc is an overlay of their own).
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
from nslab_sandbox.fleet import Fleet  # noqa: E402  # pylint: disable=wrong-import-position
from file_views import file_view, tree_view  # noqa: E402  # pylint: disable=wrong-import-position

_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
#: What the sandbox needs, by the package that has it; ssh and sshd for the fleet's hosts.
_TOOLS = {"unshare": "util-linux", "nsenter": "util-linux", "ip": "iproute2",
          "ssh": "openssh-client", "sshd": "openssh-server"}


def missing_prerequisite() -> str | None:
    """Why sandbox worlds cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "system tests need root: they create network, mount and PID namespaces"
    missing = [tool for tool in _TOOLS
               if not shutil.which(tool) and not shutil.which(tool, path=_SBIN_PATH)]
    if missing:
        packages = sorted({_TOOLS[tool] for tool in missing})
        return (f"system tests need {', '.join(missing)} (Debian packages {', '.join(packages)}; "
                "scripts/bootstrap.sh installs them)")
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


#: What a test may write only in its worlds' /etc overlays, never in this machine's /etc.
NETNS_ETC = "/etc/netns"
RESOLV_CONF = "/etc/resolv.conf"


def machine_etc_view() -> dict[str, object]:
    """This machine's /etc/netns (absent, or every entry under it with its kind and content) and
    /etc/resolv.conf: what the lab's names and the DNS kit write, in a world's /etc only."""
    return {NETNS_ETC: tree_view(NETNS_ETC), RESOLV_CONF: file_view(RESOLV_CONF)}


@pytest.fixture(autouse=True)
def machine_etc_untouched() -> Iterator[None]:
    """Fail a test after which this machine's own /etc/netns or /etc/resolv.conf differ from
    before it: the worlds and fleet hosts write /etc in overlays of their own."""
    before = machine_etc_view()
    yield
    after = machine_etc_view()
    if after != before:
        pytest.fail(f"this test changed this machine's own /etc:\nbefore: {before}\nafter:  {after}",
                    pytrace=False)


@pytest.fixture
def world() -> Iterator[World]:
    """A started sandbox world, stopped after the test."""
    with World() as started:
        yield started


@pytest.fixture
def fleet(world: World) -> Iterator[Fleet]:  # pylint: disable=redefined-outer-name  # pytest's way
    """A started fleet of three hosts (fleet1..3 at 198.51.100.11..13, reached over SSH from
    the world's host node) in ``world``; stopped after the test, before the world."""
    with Fleet(world, count=3) as started:
        yield started
