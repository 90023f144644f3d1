# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exceptions of the sandbox world: a world that cannot be used, a command that failed in it.

They sit below every other file of the package, so that the world itself
(``world.py``) and the tools that act on a world (``iptables_flavour.py``) raise
the same exceptions without importing each other.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

# Output shown in error messages is cut to keep them readable; the exception
# objects keep the full text.
_SHOWN_OUTPUT = 8000


class WorldError(RuntimeError):
    """The world could not be started, stopped or used."""


class CommandError(subprocess.CalledProcessError):
    """A command run in the world exited with a non-zero status."""

    def __init__(self, node: str, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(returncode, list(argv), stdout, stderr)
        self.node = node

    def __str__(self) -> str:
        return (f"command {list(self.cmd)!r} failed in node {self.node!r} with exit code "
                f"{self.returncode}\n{_describe_output(self.stdout, self.stderr)}")


class CommandTimeout(subprocess.TimeoutExpired):
    """A command run in the world did not finish in time (it was killed)."""

    def __init__(self, node: str, argv: Sequence[str], timeout: float, stdout: str, stderr: str) -> None:
        super().__init__(list(argv), timeout, stdout, stderr)
        self.node = node

    def __str__(self) -> str:
        return (f"command {list(self.cmd)!r} timed out after {self.timeout} s in node "
                f"{self.node!r} and was killed\n{_describe_output(self.stdout, self.stderr)}")


def _describe_output(stdout: str | bytes | None, stderr: str | bytes | None) -> str:
    parts = []
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text or ""
        if len(text) > _SHOWN_OUTPUT:
            text = f"[... {len(text) - _SHOWN_OUTPUT} characters cut ...]\n" + text[-_SHOWN_OUTPUT:]
        parts.append(f"--- {name} ---\n{text.rstrip()}")
    return "\n".join(parts)
