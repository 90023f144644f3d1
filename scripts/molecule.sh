#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The molecule scenarios in real QEMU VMs: scripts/molecule.sh [--images] [SCENARIO[@SUITE]...]. SUITE is
# the Debian release the VMs boot, bookworm (the default) or trixie. Without arguments, every
# run of ALL below. Run as root.
#
# Installs QEMU, debootstrap and vde2 when missing, builds or reuses each suite's VM image
# (scripts/vm-image.sh SUITE), then runs `molecule test` for each run, NSLAB_MOLECULE_JOBS
# (default 2) at a time, each inside a sandbox world of its own: its VMs' forwarded SSH ports
# live on that world's own 127.0.0.1, its SSH control sockets in that world's private /run,
# its molecule state (disks, VDE socket, instance config) in a directory of its own, and its
# QEMU processes end with the world whatever happens. Each run writes its output to a log
# file, printed when the run fails; the exit status is 1 if any run failed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Every scenario on bookworm; on trixie those that touch what differs between the releases
# (packages the role installs, iptables absent before it, systemd at boot). fleet proves the
# overlay across VMs, which the release does not change. Longest first: two at a time, the
# short ones fill in behind the long ones.
ALL=(fleet@bookworm reboot@bookworm reboot@trixie default@bookworm default@trixie)

if [[ $(id -u) != 0 ]]; then
    echo "molecule: run as root (image build, sandbox world)" >&2
    exit 1
fi

# Inside the world: one scenario, the suite's image in NSLAB_VM_IMAGE. The control sockets of
# SSH go to the world's private /run: Ansible names them by host, port and user only, and
# another world's VM answers on the same 127.0.0.1 port.
if [[ ${1:-} == --in-sandbox ]]; then
    export ANSIBLE_SSH_CONTROL_PATH_DIR=/run/nslab-molecule-ssh
    exec molecule test -s "$2"
fi

# --images: only install what the VMs need and build (or find) the images, e.g. while
# scripts/test.sh runs sanity, which needs the cores while this waits on the mirror and disk.
images_only=
if [[ ${1:-} == --images ]]; then
    images_only=1
    shift
fi
if (($#)); then runs=("$@"); else runs=("${ALL[@]}"); fi
suites=()
for run in "${runs[@]}"; do
    scenario=${run%@*}
    suite=bookworm
    [[ $run == *@* ]] && suite=${run#*@}
    if [[ ! -f molecule/$scenario/molecule.yml || $scenario == shared ]]; then
        echo "molecule: no scenario '$scenario' in molecule/" >&2
        exit 2
    fi
    case $suite in
        bookworm | trixie) ;;
        *) echo "molecule: unknown suite '$suite' in '$run' (bookworm or trixie)" >&2; exit 2 ;;
    esac
    [[ " ${suites[*]} " == *" $suite "* ]] || suites+=("$suite")
done

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

declare -A image=()
for suite in "${suites[@]}"; do
    image[$suite]=$(bash scripts/vm-image.sh "$suite")
done
if [[ -n $images_only ]]; then
    echo "molecule: images ready: ${image[*]}"
    exit 0
fi

export PATH=$root/.venv/bin:$PATH
jobs=${NSLAB_MOLECULE_JOBS:-2}
# Each run's molecule state and log; a run's state is its own even for the same scenario.
state=${NSLAB_MOLECULE_DIR:-$root/.venv/molecule}
mkdir -p "$state"
echo "molecule: ${runs[*]}, $jobs at a time; logs in $state"

declare -A started=() pid_run=()
failed=()
finish() {  # finish PID STATUS: the one-line verdict of a run, its log if it failed.
    local run=${pid_run[$1]} took=$((SECONDS - started[${pid_run[$1]}]))
    if (($2 == 0)); then
        printf 'molecule: %-18s passed in %dm%02ds\n' "$run" $((took / 60)) $((took % 60))
    else
        printf 'molecule: %-18s FAILED after %dm%02ds (exit %d), its log:\n' "$run" $((took / 60)) $((took % 60)) "$2"
        sed 's/^/    /' "$state/$run.log"
        failed+=("$run")
    fi
    unset "pid_run[$1]"
}

# A run still going when this script is stopped is stopped with it; its world then ends, and
# the world's QEMU processes with it.
stop_runs() {
    local pid
    for pid in "${!pid_run[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap stop_runs EXIT
wall=$SECONDS
for run in "${runs[@]}"; do
    while ((${#pid_run[@]} >= jobs)); do
        status=0
        wait -n -p done_pid "${!pid_run[@]}" || status=$?
        finish "$done_pid" "$status"
    done
    scenario=${run%@*}
    suite=bookworm
    [[ $run == *@* ]] && suite=${run#*@}
    rm -rf "${state:?}/$run" "$state/$run.ansible.log"
    started[$run]=$SECONDS
    # A log is a file: no colour codes. The Ansible log beside it has a timestamp on every
    # line: where a slow run spent its time.
    NO_COLOR=1 NSLAB_VM_IMAGE=${image[$suite]} MOLECULE_EPHEMERAL_DIRECTORY=$state/$run \
        ANSIBLE_LOG_PATH=$state/$run.ansible.log \
        scripts/sandbox run -- bash scripts/molecule.sh --in-sandbox "$scenario" >"$state/$run.log" 2>&1 &
    pid_run[$!]=$run
done
while ((${#pid_run[@]})); do
    status=0
    wait -n -p done_pid "${!pid_run[@]}" || status=$?
    finish "$done_pid" "$status"
done

total=$((SECONDS - wall))
if ((${#failed[@]})); then
    printf 'molecule: %d of %d runs failed (%s) in %dm%02ds\n' ${#failed[@]} ${#runs[@]} "${failed[*]}" $((total / 60)) $((total % 60)) >&2
    exit 1
fi
printf 'molecule: all %d runs passed in %dm%02ds\n' ${#runs[@]} $((total / 60)) $((total % 60))
