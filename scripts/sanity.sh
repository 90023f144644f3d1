#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# ansible-test sanity (no ignore files) and ansible-lint (production profile).
# ansible-test insists on running from a path ending in ansible_collections/NS/NAME, and
# resolves symlinks, so it runs on a copy of the files git tracks (and new, unignored ones).
# Its caches and venvs live under .venv/ansible-test-home, not in the user's home.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$root/.venv
python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

home=$venv/ansible-test-home
mkdir -p "$home/.ansible/test/cache"
# ansible-test bootstraps pip in its venvs with a get-pip.py it downloads from outside the
# package registries; it uses a cached copy first, which this stand-in is (see the file).
cp tools/ansible_test_get_pip.py "$home/.ansible/test/cache/get_pip_24_2.py"

work=$(mktemp -d /tmp/nslab-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
copy=$work/ansible_collections/nslab/net
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy"

echo "== ansible-test sanity (Python $python_version)"
(cd "$copy" && HOME=$home "$venv/bin/ansible-test" sanity --python "$python_version" --color no)

echo "== ansible-lint (production profile)"
# ansible-lint installs the collection it lints into ~/.ansible/collections; a stale copy
# there would shadow the checkout for every later ansible run, so it gets a home of its own.
mkdir -p "$venv/ansible-lint-home"
HOME=$venv/ansible-lint-home PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$venv/collections \
    "$venv/bin/ansible-lint" --profile production --nocolor
