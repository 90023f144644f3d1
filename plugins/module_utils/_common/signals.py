# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stopping processes: a signal, then a bounded wait until they are gone.

Both the namespaces (processes left inside one being deleted) and the services (their
process groups) stop things the same way: send the signal to what is still alive, poll
until nothing is, give up at a deadline and report what is left.
"""


import errno
import os
import time
from typing import Callable, Collection, Iterable, List, Set

POLL_SECONDS = 0.05


def signal_and_wait(targets: Collection[int], send: Callable[[int, int], None], alive: Callable[[Set[int]], Iterable[int]],
                    sig: int, wait_seconds: float) -> List[int]:
    """Send ``sig`` to each target with ``send(target, sig)``, then wait up to
    ``wait_seconds`` until ``alive(targets)`` (the subset still running) is empty.

    A target that is already gone (ESRCH) is not an error. Returns the targets still alive.
    """
    for target in targets:
        try:
            send(target, sig)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
    remaining = set(targets)
    deadline = time.monotonic() + wait_seconds
    while remaining:
        remaining &= set(alive(remaining))
        if not remaining or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    return sorted(remaining)


def kill_process(pid: int, sig: int) -> None:
    os.kill(pid, sig)


def kill_group(pgid: int, sig: int) -> None:
    os.killpg(pgid, sig)
