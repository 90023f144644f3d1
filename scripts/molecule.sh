#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The molecule scenarios in real QEMU VMs: scripts/molecule.sh [SCENARIO...] (default: all of
# molecule/*/ but shared). Installs QEMU, debootstrap and vde2 when missing, builds or reuses
# the VM image (scripts/vm-image.sh), then runs `molecule test` for each scenario inside one
# sandbox world, so the VMs' forwarded SSH ports live on the sandbox's own 127.0.0.1 and the
# QEMU processes end with the world whatever happens. Run as root.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ $(id -u) != 0 ]]; then
    echo "molecule: run as root (image build, sandbox world)" >&2
    exit 1
fi

if [[ ${1:-} == --in-sandbox ]]; then
    shift
    failed=()
    for scenario in "$@"; do
        start=$SECONDS
        echo "== molecule test -s $scenario"
        if molecule test -s "$scenario"; then
            echo "== molecule: $scenario passed in $((SECONDS - start)) s"
        else
            echo "== molecule: $scenario FAILED after $((SECONDS - start)) s"
            failed+=("$scenario")
        fi
    done
    if ((${#failed[@]})); then
        echo "molecule: failed scenarios: ${failed[*]}" >&2
        exit 1
    fi
    exit 0
fi

bash scripts/bootstrap.sh
# apt-utils: apt-ftparchive indexes the image's local repository.
packages=(qemu-system-x86 qemu-utils debootstrap vde2 apt-utils e2fsprogs openssh-client)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "molecule: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

NSLAB_VM_IMAGE=$(bash scripts/vm-image.sh)
export NSLAB_VM_IMAGE
if (($#)); then
    scenarios=("$@")
else
    scenarios=()
    for dir in molecule/*/molecule.yml; do
        scenarios+=("$(basename "$(dirname "$dir")")")
    done
fi
export PATH=$root/.venv/bin:$PATH
exec scripts/sandbox run -- bash scripts/molecule.sh --in-sandbox "${scenarios[@]}"
