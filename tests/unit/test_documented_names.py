# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docs and the docstrings name only modules, functions and files that exist.

A rename or a split leaves old names behind in prose, where no import fails; this test is
that import. It reads the Sphinx roles of every docstring in plugins/ (``:mod:``, ``:func:``,
``:class:``...) and the code spans of the Markdown docs: a span that looks like a file must
be a file of the repository, one that looks like a call must call something the code
defines, and a snake_case word must be a word of the code (a function, an option, a key).
"""

import ast
import os
import builtins
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CODE_DIRS = ('plugins', 'roles', 'playbooks', 'tools', 'tests', 'bench', 'molecule', 'scripts', '.ci')
CODE_SUFFIXES = ('.py', '.yml', '.yaml', '.sh', '.j2', '.cfg', '.ini', '.toml', '.txt')
DOCS = ('README.md', 'docs/architecture.md', 'docs/performance.md', 'docs/changelog-fragments.md',
        'roles/lab/README.md', 'CONTRIBUTING.md')
#: Words of other programs that the docs explain ours by (the kernel's, iproute2's, Docker's).
FOREIGN = {
    'route_localnet', 'ip_forward', 'bridge_nf_call_iptables', 'br_netfilter', 'nf_conntrack',
    'xt_comment', 'arp_accept', 'ip_tables', 'nf_tables', 'iptables_restore', 'network_mode', 'add_host',
    'resolv_conf', 'proxy_arp', 'arp_notify', 'ip_unprivileged_port_start', 'max_user_namespaces',
    'ansible_python_interpreter', 'ansible_host', 'ansible_user', 'inventory_hostname', 'hostvars',
    'group_vars', 'host_vars', 'ansible_facts', 'ansible_connection', 'ansible_become',
}
#: Paths that the bootstrap, the tests or a benchmark make, and the path ansible-test wants.
GENERATED = ('.venv', 'ansible_collections/', 'bench/results/')
#: Files of other projects: ansible-core's AnsiballZ wrapper, community.general's helper.
FOREIGN_FILES = {'sitecustomize.py', '_module_helper.py'}
ROLES = re.compile(r':(mod|func|class|meth|data|attr|exc):`~?([^`]+)`')
SPAN = re.compile(r'(?<!`)`([^`\n]+)`(?!`)')
FILE = re.compile(r'^[\w.-]*(/[\w.*-]+)*\.(py|yml|yaml|sh|md|json|txt|cfg|ini|j2|toml)$|^[\w.-]+(/[\w.-]+)+/?$')
CALL = re.compile(r'^([A-Za-z_][\w.]*)\(')
WORD = re.compile(r'^_?[a-z][a-z0-9]*(_[a-z0-9]+)+$')


def _files():
    """The repository's files: those git tracks, and new ones it does not ignore."""
    listed = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                            stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    return sorted(path for path in listed.splitlines() if os.path.exists(os.path.join(ROOT, path)))


FILES = _files()
DIRECTORIES = {os.path.dirname(path) for path in FILES} | {'plugins/module_utils/' + d for d in os.listdir(
    os.path.join(ROOT, 'plugins', 'module_utils'))}


def _python_names(prefix=''):
    """Every name the Python files under ``prefix`` define, and the names of those modules."""
    modules, names = set(), set()
    for path in FILES:
        if not (path.endswith('.py') and path.startswith(prefix)):
            continue
        modules.add(os.path.basename(path)[:-3])
        modules.update(os.path.dirname(path).split('/'))
        with open(os.path.join(ROOT, path)) as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
    return modules, names


MODULES, NAMES = _python_names()
NAMES |= MODULES
PLUGIN_MODULES, PLUGIN_NAMES = _python_names('plugins/')
PLUGIN_NAMES |= PLUGIN_MODULES


def _code_words():
    words = set()
    for path in FILES:
        if path.endswith(CODE_SUFFIXES) and not path.startswith('tests/unit/test_documented_names'):
            with open(os.path.join(ROOT, path), errors='replace') as handle:
                words.update(re.findall(r'\w+', handle.read()))
    return words


WORDS = _code_words()


def _file_exists(text):
    text = text.rstrip('/')
    if '*' in text:
        pattern = text.replace('.', r'\.').replace('*', '[^/]*')
        return any(re.fullmatch(pattern, path) or re.fullmatch(pattern, os.path.basename(path)) for path in FILES)
    for prefix in ('', 'plugins/', 'plugins/module_utils/', 'tests/', 'tests/system/'):
        if prefix + text in FILES or prefix + text in DIRECTORIES:
            return True
    return any(path.endswith('/' + text) for path in FILES)


def _span_problem(span):
    """Why the code span ``span`` of a doc names something that does not exist, or None."""
    if ' ' in span or span.startswith(GENERATED + ('/', '~', '$', '-', 'http')) or re.search(r'[A-Z]{2,}|[{}<>=:]', span):
        return None  # a command line, a path on the host, a placeholder or a rule
    call = CALL.match(span)
    if call:
        name = call.group(1).split('.')[-1]
        return None if name in NAMES or hasattr(builtins, name) else 'calls %s, which nothing defines' % name
    if span in FOREIGN_FILES:
        return None
    if FILE.match(span) and re.match('[._]*[a-z]', span) and '/' in span or span.endswith('.py'):
        return None if _file_exists(span) else 'names the file %s, which does not exist' % span
    if WORD.match(span) and span not in FOREIGN and span.lstrip('_') not in WORDS and span not in WORDS:
        return 'names %s, which no code has' % span
    return None


def _docstrings():
    for path in FILES:
        if not (path.startswith('plugins/') and path.endswith('.py')):
            continue
        with open(os.path.join(ROOT, path)) as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                text = ast.get_docstring(node)
                if text:
                    yield path, text


def _role_problem(role, target):
    """Why a docstring's ``:role:`target``` names nothing of plugins/, or None: a module's
    path must be modules, and the last part of any other a name the plugins define."""
    parts = [part for part in target.split('.') if part]
    modules, last = (parts, None) if role == 'mod' else (parts[:-1], parts[-1])
    missing = [part for part in modules if part not in (PLUGIN_MODULES if role == 'mod' else PLUGIN_NAMES)]
    if last is not None and last not in PLUGIN_NAMES:
        missing.append(last)
    return 'names %s, which does not exist' % target if missing else None


def test_docstrings_name_what_exists():
    problems = ['%s: %s' % (path, _role_problem(*found))
                for path, text in _docstrings() for found in ROLES.findall(text) if _role_problem(*found)]
    assert problems == []


@pytest.mark.parametrize('doc', [doc for doc in DOCS if os.path.exists(os.path.join(ROOT, doc))])
def test_docs_name_what_exists(doc):
    with open(os.path.join(ROOT, doc)) as handle:
        text = re.sub(r'```.*?```', '', handle.read(), flags=re.S)
    problems = sorted({'%s: %s' % (doc, _span_problem(span)) for span in SPAN.findall(text) if _span_problem(span)})
    assert problems == []
