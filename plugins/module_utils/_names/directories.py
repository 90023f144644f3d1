# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which directories of /etc/netns the lab made, remembered in its own files (pure).

A teardown must leave /etc/netns as it found it: remove ``/etc/netns/NS`` and ``/etc/netns``
where the lab made them, keep them (even empty) where they were there before. The record in
/run does not outlive a reboot, and the files do; so the lab's files carry, on the line after
their marker, the directories the lab made: ``/etc/netns`` in every file of every lab (any of
them may be the last to go), ``/etc/netns/NS`` in that namespace's files.
"""


import os
from typing import Dict, Iterable, List, Optional, Set

MADE = '# nslab.net made: '


def made_dirs(text: Optional[str]) -> List[str]:
    """The directories a file of the lab says the lab made."""
    lines = (text or '').split('\n', 2)
    if len(lines) > 1 and lines[1].startswith(MADE):
        return lines[1][len(MADE):].split()
    return []


def with_made(text: str, dirs: Iterable[str]) -> str:
    """``text`` (a file of the lab, marker first) saying that the lab made ``dirs``."""
    marker, rest = text.split('\n', 1)
    dirs = sorted(set(dirs))
    return '\n'.join([marker] + (['%s%s' % (MADE, ' '.join(dirs))] if dirs else []) + [rest])


def lab_made(current: Dict[str, Optional[str]], ours: Iterable[str], missing: Iterable[str],
             directory: str, nslab_files: Iterable[str]) -> Set[str]:
    """The directories the lab made: those it is about to make (``missing``: needed and not
    there), those its own files (``ours``, paths of ``current``) remember, and ``directory``
    where any lab's file (``nslab_files``) remembers it: it is the labs' together, and the
    last one to leave removes it."""
    made = set(missing)
    for path in ours:
        made.update(made_dirs(current.get(path)))
    if any(directory in made_dirs(current.get(path)) for path in nslab_files):
        made.add(directory)
    return made


def stamped(wanted: Dict[str, str], made: Set[str], directory: str) -> Dict[str, str]:
    """``wanted`` with each file remembering the directories of its own that the lab made."""
    return {path: with_made(text, [d for d in made if d in (directory, os.path.dirname(path))])
            for path, text in wanted.items()}
