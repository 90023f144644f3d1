#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# ansible-test sanity (no ignore files) on the oldest and the newest ansible-core of the
# controller matrix (requirements/cores/), at the same time, on the two cores of a test
# machine; ansible-lint (production profile) on the newest; and a check that CHANGELOG.md is
# antsibull-changelog's rendering of changelogs/.
#   bash scripts/sanity.sh             all of it
#   bash scripts/sanity.sh changelog   only rewrite CHANGELOG.md from changelogs/ (seconds)
# ansible-test insists on running from a path ending in ansible_collections/NS/NAME, and
# resolves symlinks, so it runs on a copy of the files git tracks (and new, unignored ones).
# Each core's caches and venvs live in an ansible-test-home inside its venv, not in the
# user's home.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv=$root/.venv
cores=$(printf '%s\n' requirements/cores/ansible-core-*.txt | sort -V)
oldest=$venv/cores/$(basename "$(head -n1 <<<"$cores")" .txt)
newest=$venv/cores/$(basename "$(tail -n1 <<<"$cores")" .txt)

work=$(mktemp -d /tmp/nslab-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
copy=$work/ansible_collections/nslab/net
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy"

# render_changelog: CHANGELOG.md of the copy, as antsibull-changelog makes it. It renders only
# releases, so changes not released yet (the fragments) are rendered, on the copy alone, as
# the release of galaxy.yml's version, with a summary saying it is not out; changelog.yaml and
# the fragments in the checkout stay as they are until `antsibull-changelog release`.
render_changelog() {
    local version
    version=$("$venv/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' \
        "$copy/galaxy.yml")
    if compgen -G "$copy/changelogs/fragments/*.yml" >/dev/null; then
        printf -- '---\nrelease_summary: >-\n  Not released yet: the changes so far, from changelogs/fragments.\n' \
            >"$copy/changelogs/fragments/zz-not-released-yet.yml"
        set -- release --version "$version"
    else
        set -- generate
    fi
    # The plugins listed as new come from ansible-doc, which finds the collection in the copy.
    (cd "$copy" && ANSIBLE_COLLECTIONS_PATH=$work PATH=$venv/bin:$PATH "$venv/bin/antsibull-changelog" "$@")
}

if [[ ${1:-} == changelog ]]; then
    render_changelog
    cp "$copy/CHANGELOG.md" CHANGELOG.md
    echo "CHANGELOG.md rewritten from changelogs/"
    exit 0
fi

# sanity VENV LOG: ansible-test sanity of that venv's ansible-core on the venv's Python, in a
# copy of its own (ansible-test writes its results into the tree), its output in LOG.
sanity() {
    local core=$1 log=$2 home=$1/ansible-test-home pip_version python_version tests tree
    if [[ ! -x $core/bin/ansible-test ]]; then
        echo "sanity: $core is missing: scripts/bootstrap.sh makes it, with the Python its requirements name" >"$log"
        return 1
    fi
    python_version=$("$core/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    tests=$core/lib/python$python_version/site-packages/ansible_test
    tree=$work/$(basename "$core")/ansible_collections/nslab/net
    mkdir -p "$(dirname "$tree")"
    cp -a "$copy" "$tree"
    # ansible-test bootstraps pip in its venvs with a get-pip.py it downloads from outside the
    # package registries; it uses a cached copy first, which this stand-in is (see the file).
    # Each ansible-test asks for the pip release it pins in its default_packages.
    pip_version=$(sed -n "/default_packages = dict(/,/)/s/^ *pip='\([0-9.]*\)'.*/\1/p" \
        "$tests/_internal/python_requirements.py")
    mkdir -p "$home/.ansible/test/cache"
    cp tools/ansible_test_get_pip.py "$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    # ansible-test 2.22 pins pylint's dill to a GitHub snapshot, for Python 3.15, which is not
    # a package registry and not reachable here; on the Pythons this matrix runs, dill's PyPI
    # release serves pylint as well. Rewritten in the venv's copy of ansible-test only.
    sed -i 's|^dill @ https://github.com/uqfoundation/dill/archive/[0-9a-f]*\.zip.*$|dill==0.4.1|' \
        "$tests/_data/requirements/sanity.pylint.txt"
    {
        # sed, not head: head would close the pipe while ansible still writes, and ansible prints a traceback.
        echo "== ansible-test sanity, $("$core/bin/ansible" --version | sed -n 1p) (Python $python_version)"
        (cd "$tree" && HOME=$home "$core/bin/ansible-test" sanity --python "$python_version" --color no)
    } >"$log" 2>&1
}
# Every check runs, whatever the ones before found, and the run fails at the end if one did.
failed=()
sanity "$oldest" "$work/oldest.log" &
oldest_pid=$!
sanity "$newest" "$work/newest.log" &
newest_pid=$!
wait "$oldest_pid" || failed+=("ansible-test sanity (oldest core, $(basename "$oldest"))")
cat "$work/oldest.log"
wait "$newest_pid" || failed+=("ansible-test sanity (newest core, $(basename "$newest"))")
cat "$work/newest.log"

echo "== CHANGELOG.md is antsibull-changelog's rendering of changelogs/"
if ! render_changelog >/dev/null || ! diff -u CHANGELOG.md "$copy/CHANGELOG.md"; then
    echo "sanity: CHANGELOG.md is not what changelogs/ renders to; run: bash scripts/sanity.sh changelog" >&2
    failed+=("CHANGELOG.md")
fi

echo "== ansible-lint (production profile)"
# ansible-lint installs the collection it lints into ~/.ansible/collections; a stale copy
# there would shadow the checkout for every later ansible run, so it gets a home of its own.
# It runs on the newest ansible-core, in that core's venv: it depends on ansible-core itself
# and imports it.
mkdir -p "$venv/ansible-lint-home"
HOME=$venv/ansible-lint-home PATH=$newest/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$venv/collections \
    "$newest/bin/ansible-lint" --profile production --nocolor || failed+=("ansible-lint")

if ((${#failed[@]})); then
    printf 'sanity: failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
