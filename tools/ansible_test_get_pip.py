# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stands in for the get-pip.py that ansible-test downloads to bootstrap pip in its venvs.

ansible-test fetches that script from a host outside the package registries, which these
machines cannot reach; it reads it from its cache first, so scripts/sanity.sh puts this file
there. Like get-pip.py it installs pip and then the packages named on its command line
(``pip==24.2 --no-setuptools --no-wheel ...``), here with the interpreter's bundled pip
(ensurepip) and the package index pip is configured for.
"""

from __future__ import annotations

import subprocess
import sys

IGNORED = {'--no-setuptools', '--no-wheel'}


def main():
    # Separate processes: ensurepip points PIP_CONFIG_FILE at /dev/null in its own process,
    # and the install must see the machine's pip configuration (index, certificates).
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    args = [arg for arg in sys.argv[1:] if arg not in IGNORED]
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--upgrade', '--disable-pip-version-check'] + args)


if __name__ == '__main__':
    main()
