# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module does with its task arguments before it looks at the system.

Each module takes one item as top-level options or many as a list option with the same
suboptions; both shapes become a list of item dicts here, so the rest of a module never
knows which one the user wrote. Validation collects every problem of every item, so one
failed run shows them all.
"""


from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, TypeVar

from ansible_collections.nslab.net.plugins.module_utils._common.errors import InvalidInput, invalid

_T = TypeVar('_T')


def task_items(params: Mapping[str, Any], list_key: str, item_keys: Iterable[str]) -> List[Dict[str, Any]]:
    """The items of a task: ``params[list_key]`` when given, else the top-level options."""
    if params.get(list_key) is not None:
        return [dict(item) for item in params[list_key]]
    return [{key: params.get(key) for key in item_keys}]


def parsed_items(parse: Callable[..., _T], params: Mapping[str, Any], list_key: str, item_keys: Iterable[str],
                 *args: Any) -> _T:
    """``parse(items, *args)`` of the task's items; the TaskFailed of every problem it finds."""
    try:
        return parse(task_items(params, list_key, item_keys), *args)
    except InvalidInput as exc:
        raise invalid(exc)


def duplicates(keys: Iterable[_T]) -> List[_T]:
    """The keys that occur more than once, in first-seen order."""
    seen, repeated = set(), []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def where(netns: Optional[str]) -> str:
    """How messages name a namespace: the host's own, or a named one."""
    return "namespace %s" % netns if netns else "the host namespace"
