# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs on the managed host stays valid Python 3.8.

The controller is Python 3.11 and so are the test hosts here; targets as old as 3.8 (RHEL 8's
platform-python is 3.6, Debian 11's 3.9) must still import the modules. Annotations are
evaluated when a module is imported (no ``from __future__ import annotations``, which
ansible-test's boilerplate check does not allow), so ``list[str]`` or ``X | None`` there
would fail on 3.8 although it parses.
"""

from __future__ import annotations

import ast
import os

import pytest


PLUGINS = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'plugins')
TARGET_DIRS = ('module_utils', 'modules')
BUILTIN_GENERICS = {'list', 'dict', 'set', 'frozenset', 'tuple', 'type'}


def target_files():
    for directory in TARGET_DIRS:
        for root, unused, files in os.walk(os.path.join(PLUGINS, directory)):
            for name in sorted(files):
                if name.endswith('.py'):
                    yield os.path.relpath(os.path.join(root, name), PLUGINS)


def annotations(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            arguments += [a for a in (node.args.vararg, node.args.kwarg) if a]
            yield from (a.annotation for a in arguments if a.annotation)
            if node.returns:
                yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def too_new(annotation):
    """The parts of an annotation that Python 3.8 cannot evaluate."""
    for node in ast.walk(annotation):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in BUILTIN_GENERICS:
            yield '%s[...] (use typing.%s)' % (node.value.id, node.value.id.capitalize())
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            yield 'X | Y (use typing.Optional or typing.Union)'


FILES = list(target_files())


def test_there_are_target_files():
    assert len(FILES) > 30  # positive control: the walk finds the collection's code


@pytest.mark.parametrize('path', FILES)
def test_target_code_is_python_3_8(path):
    with open(os.path.join(PLUGINS, path), encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), filename=path, feature_version=(3, 8))
    problems = ['line %d: %s' % (annotation.lineno, problem)
                for annotation in annotations(tree) for problem in too_new(annotation)]
    assert not problems, problems


def test_the_check_sees_what_3_8_cannot_evaluate():
    tree = ast.parse('def f(a: list[str], b: "int | None") -> dict[str, int] | None: pass')
    found = [problem for annotation in annotations(tree) for problem in too_new(annotation)]
    assert len(found) == 3  # list[...], dict[...], the | of the return; the string is not evaluated
