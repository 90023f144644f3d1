#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# What the EC2 inventory (inventories/ec2) and its offline test need, kept apart from .venv so
# that their pins never move the main environment's; reruns do nothing until a pin changes:
#  - .venv/ec2: ansible-core, boto3/botocore and moto[server] (requirements/ec2-inventory.txt);
#  - .venv/ec2/collections/ansible_collections/amazon/aws: the amazon.aws collection at the
#    version inventories/ec2/requirements.yml names.
# Galaxy cannot be reached from here nor from CI, only PyPI can: the collection is taken from
# the `ansible` package on PyPI, which ships it already installed, at the release and sha256
# pinned below, so every machine gets the same files.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

dir=.venv/ec2
req=requirements/ec2-inventory.txt
# ansible 12.3.0 carries amazon.aws 10.1.2 (ansible_collections/amazon/aws/MANIFEST.json).
bundle=ansible==12.3.0
bundle_sha256=cd156f82fa87f7a899212b0efa9f7ca3a24d609212de9f78428a572eb01e5414
collections=$dir/collections

fail() {
    echo "bootstrap-ec2: $*" >&2
    exit 1
}

# Same contract as bootstrap.sh's venv: (re)install only when the requirements file changed.
stamp="$dir/.installed-$(sha256sum "$req" | cut -c1-16)"
if [[ ! -e $stamp ]]; then
    echo "bootstrap-ec2: installing $req into $dir"
    [[ -x $dir/bin/python ]] || python3 -m venv "$dir"
    # pip's output goes to a log: on success it is noise, on failure it is the story.
    if ! "$dir/bin/python" -m pip install --disable-pip-version-check -r "$req" >"$dir/pip.log" 2>&1; then
        cat "$dir/pip.log" >&2
        fail "pip install -r $req failed (log above, kept in $dir/pip.log)"
    fi
    rm -f "$dir"/.installed-*
    touch "$stamp"
fi

# The version users install from Galaxy with inventories/ec2/requirements.yml is the one tested.
wanted=$("$dir/bin/python" - inventories/ec2/requirements.yml <<'PY'
import sys
import yaml
with open(sys.argv[1]) as stream:
    entries = yaml.safe_load(stream)['collections']
print(next(str(entry['version']) for entry in entries if entry['name'] == 'amazon.aws'))
PY
)
[[ $wanted =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] \
    || fail "inventories/ec2/requirements.yml must pin amazon.aws to one version (it says '$wanted')"

cstamp="$collections/.installed-amazon.aws-$wanted-${bundle_sha256:0:16}"
[[ -e $cstamp ]] && exit 0
echo "bootstrap-ec2: installing amazon.aws $wanted (from PyPI's $bundle) into $collections"
download=$(mktemp -d /tmp/nslab-ec2.XXXXXX)
trap 'rm -rf "$download"' EXIT
if ! "$dir/bin/python" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
        -d "$download" "$bundle" >"$dir/collection.log" 2>&1; then
    cat "$dir/collection.log" >&2
    fail "pip download $bundle failed (log above, kept in $dir/collection.log)"
fi
wheel=("$download"/*.whl)
echo "$bundle_sha256  ${wheel[0]}" | sha256sum --check --quiet - >/dev/null 2>&1 \
    || fail "${wheel[0]##*/} does not have the pinned sha256 $bundle_sha256"

# Only the one collection comes out of the wheel (4 MB of its 210), into a fresh directory that
# replaces the old one whole, and only when it is the version requirements.yml names and every
# file matches the checksum in the collection's own FILES.json. The ansible package leaves out
# the collection's tests/, docs/ and .github/ (so `ansible-galaxy collection verify` calls them
# modified); all it keeps, plugins/ and meta/ whole, is byte for byte the release.
"$dir/bin/python" - "${wheel[0]}" "$collections" "$wanted" <<'PY' || fail "could not install amazon.aws $wanted"
import hashlib
import json
import os
import shutil
import sys
import zipfile

wheel, collections, wanted = sys.argv[1:]
prefix = 'ansible_collections/amazon/aws/'
staging = os.path.join(collections, '.amazon.aws.new')
shutil.rmtree(staging, ignore_errors=True)
with zipfile.ZipFile(wheel) as archive:
    members = [name[len(prefix):] for name in archive.namelist()
               if name.startswith(prefix) and not name.endswith('/')]
    for name in members:
        target = os.path.join(staging, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with archive.open(prefix + name) as source, open(target, 'wb') as copy:
            shutil.copyfileobj(source, copy)


def give_up(message):
    shutil.rmtree(staging, ignore_errors=True)
    sys.exit(message)


def load(name):
    with open(os.path.join(staging, name)) as stream:
        return json.load(stream)


found = load('MANIFEST.json')['collection_info']['version']
if found != wanted:
    give_up('the wheel carries amazon.aws %s, inventories/ec2/requirements.yml names %s' % (found, wanted))
listed = {entry['name']: entry['chksum_sha256'] for entry in load('FILES.json')['files'] if entry['ftype'] == 'file'}
problems = []
for name in sorted((set(listed) | set(members)) - {'MANIFEST.json', 'FILES.json'}):
    path = os.path.join(staging, name)
    if not os.path.exists(path):
        if name.startswith(('plugins/', 'meta/')):
            problems.append('missing ' + name)
        continue
    with open(path, 'rb') as stream:
        if listed.get(name) != hashlib.sha256(stream.read()).hexdigest():
            problems.append('unlisted or changed ' + name)
if problems:
    give_up('amazon.aws %s differs from its FILES.json: %s' % (found, ', '.join(problems)))
final = os.path.join(collections, prefix)
shutil.rmtree(final, ignore_errors=True)
os.makedirs(os.path.dirname(final.rstrip('/')), exist_ok=True)
os.rename(staging, final)
PY
rm -f "$collections"/.installed-amazon.aws-*
touch "$cstamp"
