# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's value objects (frozen dataclasses) share beyond ``dataclasses``."""


from typing import Any


def init_frozen(instance: object, **fields: Any) -> None:
    """Set ``fields`` on a frozen dataclass from its own ``__init__``.

    Steps take their arguments as ``**args``, which a generated ``__init__`` cannot; a frozen
    instance refuses plain assignment, even there.
    """
    for name, value in fields.items():
        object.__setattr__(instance, name, value)
