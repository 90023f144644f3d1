# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's "Tested with" table of controllers lists exactly what CI runs.

The controller matrix is the pinned venvs of requirements/cores/ and .venv's own
(requirements/dev.txt, series 2.19); each names its Python in a ``# python: 3.X`` line, which
scripts/bootstrap.sh makes the venv with. The README's rows must give the same releases on the
same Pythons, no more and no fewer, and meta/runtime.yml must declare the oldest.
"""

import glob
import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(REPO, 'requirements')


def pinned(path):
    """(ansible-core release, Python) that a requirements file pins."""
    with open(path, encoding='utf-8') as handle:
        text = handle.read()
    return (re.search(r'^ansible-core==(\S+)$', text, re.M).group(1),
            re.search(r'^# python: (3\.\d+)$', text, re.M).group(1))


def matrix():
    files = glob.glob(os.path.join(REQUIREMENTS, 'cores', 'ansible-core-*.txt'))
    files.append(os.path.join(REQUIREMENTS, 'dev.txt'))
    return sorted((pinned(path) for path in files), key=lambda row: [int(part) for part in row[0].split('.')])


def readme_rows():
    with open(os.path.join(REPO, 'README.md'), encoding='utf-8') as handle:
        text = handle.read()
    section = text[text.index('\n## Tested with\n'):]
    section = section[:section.index('\n## ', 1)]
    return re.findall(r'^\| (2\.\d+\.\d+)\b[^|]*\| (3\.\d+) \|', section, re.M)


def test_the_readme_lists_every_series_ci_runs_on_its_python():
    assert readme_rows() == matrix()


def test_every_series_file_is_named_after_its_release():
    for path in glob.glob(os.path.join(REQUIREMENTS, 'cores', 'ansible-core-*.txt')):
        release = pinned(path)[0]
        assert os.path.basename(path) == 'ansible-core-%s.txt' % release.rsplit('.', 1)[0]


def test_requires_ansible_is_the_oldest_series():
    with open(os.path.join(REPO, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        declared = yaml.safe_load(handle)['requires_ansible']
    oldest = matrix()[0][0]
    assert declared == '>=%s.0' % oldest.rsplit('.', 1)[0]
