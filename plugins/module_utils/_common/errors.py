# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two ways a task fails: before it looks at the system, and while it works.

:class:`InvalidInput` means the arguments are wrong and nothing was read or changed; it
carries every problem found, so one failed run shows them all. :class:`TaskFailed` is what
a task raises to fail its module; its ``fields`` go into the failed result (``changed``,
``commands`` of what was done, ``problems``).
"""


from typing import Any, Iterable


class InvalidInput(Exception):
    """The task's arguments are wrong; nothing has been read or changed."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__('; '.join(self.problems))


class TaskFailed(Exception):
    """A task cannot be done or failed part-way; ``fields`` go into the failed result."""

    def __init__(self, msg: str, **fields: Any) -> None:
        self.msg = msg
        self.fields = fields
        super().__init__(msg)


def invalid(exc: InvalidInput) -> TaskFailed:
    """The TaskFailed of arguments that failed validation."""
    return TaskFailed(str(exc), problems=exc.problems)
