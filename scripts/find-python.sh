#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# bash scripts/find-python.sh 3.X: prints the path of a CPython 3.X interpreter, or says where
# it looked and exits 1. The test matrix runs each ansible-core series, and each target Python,
# on the interpreter it needs, which a distribution ships one of: the others come from where
# developers keep them. Looked for, in order: python3.X in /usr/local/bin and /usr/bin, then
# pyenv's versions ($PYENV_ROOT, default ~/.pyenv; the newest 3.X.* there). pyenv's shims are
# skipped: they answer only for the versions pyenv is set to.
set -euo pipefail
version=${1:?usage: find-python.sh 3.X}
if [[ ! $version =~ ^3\.[0-9]+$ ]]; then
    echo "find-python: $version is not a 3.X version" >&2
    exit 2
fi
for candidate in /usr/local/bin/python"$version" /usr/bin/python"$version"; do
    if [[ -x $candidate ]]; then
        echo "$candidate"
        exit 0
    fi
done
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
newest=$(compgen -G "$pyenv_root/versions/$version.*/bin/python$version" | sort -V | tail -n1 || true)
if [[ -n $newest ]]; then
    echo "$newest"
    exit 0
fi
echo "find-python: no Python $version here (looked for python$version in /usr/local/bin, /usr/bin" \
    "and $pyenv_root/versions/$version.*); install it (e.g. pyenv install $version) or leave out what needs it" >&2
exit 1
