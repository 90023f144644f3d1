#!/usr/bin/env bash
# Copyright: (c) 2026, nslab.net contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# scripts/vm-image.sh [SUITE]: builds the Debian VM image the molecule scenarios boot, or
# reuses the cached one, and prints its directory (base.qcow2, vmlinuz, initrd.img,
# id_ed25519). SUITE is bookworm (Debian 12, the default) or trixie (Debian 13). Run as root.
#
# Built from the package mirror this machine's apt uses, never from a downloaded image: a
# minimal debootstrap with systemd, sshd, python3, iproute2 and the cloud kernel, plus what a
# fresh install of that release has for a firewall: iptables on bookworm, nftables (and no
# iptables) on trixie.
# The image has no route to the outside, yet the role must install what it needs itself
# (pyroute2, python-iptables, and on trixie iptables), as on a fresh machine: those packages
# (and what they pull in) are downloaded into a local apt repository inside the image,
# /srv/nslab-apt, which is the image's only apt source. They are not installed.
#
# The cache is keyed by this file's hash and the suite: editing the recipe builds new images.
# NSLAB_VM_CACHE overrides where the cache lives (default .venv/vm in the checkout); the
# newest image of each suite is also linked as .venv/vm/SUITE.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self=$root/scripts/vm-image.sh

if [[ $(id -u) != 0 ]]; then
    echo "vm-image: run as root (debootstrap and chroot need it)" >&2
    exit 1
fi

suite=${1:-bookworm}
# What a fresh install of each release has that the other lacks: the firewall tool.
case $suite in
    bookworm) release=12 firewall=iptables ;;
    trixie) release=13 firewall=nftables ;;
    *)
        echo "vm-image: unknown suite '$suite' (bookworm or trixie)" >&2
        exit 2
        ;;
esac

cache=${NSLAB_VM_CACHE:-$root/.venv/vm}
key=$( (cat "$self"; echo "$suite") | sha256sum | cut -c1-16)
image=$cache/debian$release-$key
if [[ -e $image/.complete ]]; then
    ln -sfn "$(basename "$image")" "$cache/$suite"
    echo "$image"
    exit 0
fi

# The mirror the machine's apt already trusts (deb822 first, then the one-line format).
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [[ -z $mirror ]]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}

# Callers read the image's path from stdout (NSLAB_VM_IMAGE=$(scripts/vm-image.sh)): whatever
# the build tools print goes to stderr (mkfs.ext4 -q still announces the file it creates).
exec 3>&1 1>&2
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
# Nothing of a failed build may be mistaken for an image; the mounts die with their namespace.
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
start=$SECONDS
echo "vm-image: building $image from $mirror" >&2

# Stage 1 only downloads and unpacks: no package script runs yet.
debootstrap --foreign --variant=minbase --arch=amd64 \
    --include=systemd,systemd-sysv,udev,dbus,libpam-systemd,kmod,openssh-server,python3,iproute2,$firewall,iputils-ping,sudo,curl,ca-certificates,initramfs-tools,linux-image-cloud-amd64 \
    "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# Package scripts run on this machine's kernel: a postinst that starts sshd (or anything)
# would listen on the machine. policy-rc.d forbids every start; the second stage also runs
# in namespaces of its own (network, mount, PID), so nothing can escape even if a script
# ignores the policy, and every mount it makes is gone when it exits.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

# Only the drivers QEMU's virtio devices need: the initrd of the cloud kernel stays small
# (ext4 is built in). conf.d and hooks/ are not package conffiles, so dpkg leaves them be.
mkdir -p "$rootfs/etc/initramfs-tools/conf.d" "$rootfs/etc/initramfs-tools/hooks"
echo 'MODULES=list' >"$rootfs/etc/initramfs-tools/conf.d/nslab-vm.conf"
cat >"$rootfs/etc/initramfs-tools/hooks/nslab-virtio" <<'EOF'
#!/bin/sh
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
manual_add_modules virtio_pci virtio_blk virtio_net
EOF
chmod 0755 "$rootfs/etc/initramfs-tools/hooks/nslab-virtio"

unshare --net --mount --pid --fork --kill-child \
    chroot "$rootfs" /debootstrap/debootstrap --second-stage >"$work/second-stage.log" 2>&1 \
    || { tail -n 30 "$work/second-stage.log" >&2; exit 1; }

# The packages the role installs (roles/lab/vars/main.yml, Debian) and python3-apt, which
# Ansible's apt module installs first, with whatever they pull in that the image lacks:
# downloaded only (no package script runs), then offered by a local repository. A package the
# image has already (iproute2; iptables on bookworm) downloads nothing. debootstrap leaves
# the base system's packages in the cache: cleaned first, or the repository would hold them.
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
echo "deb $mirror $suite main" >"$rootfs/etc/apt/sources.list"
unshare --mount --pid --fork --kill-child chroot "$rootfs" sh -ec '
    apt-get clean
    apt-get -qq update
    apt-get -qq install --download-only --no-install-recommends -y \
        iproute2 iptables python3-pyroute2 python3-iptables python3-apt
' >"$work/download.log" 2>&1 || { tail -n 30 "$work/download.log" >&2; exit 1; }
mkdir -p "$rootfs/srv/nslab-apt"
mv "$rootfs"/var/cache/apt/archives/*.deb "$rootfs/srv/nslab-apt/"
(cd "$rootfs/srv/nslab-apt" && apt-ftparchive packages . >Packages)
rm -f "$rootfs/etc/apt/sources.list" "$rootfs/etc/resolv.conf"
echo 'deb [trusted=yes] file:/srv/nslab-apt ./' >"$rootfs/etc/apt/sources.list.d/nslab-local.list"
rm -rf "$rootfs"/var/lib/apt/lists/*
unshare --net --mount --pid --fork --kill-child chroot "$rootfs" apt-get -qq update >"$work/apt-local.log" 2>&1 \
    || { cat "$work/apt-local.log" >&2; exit 1; }

# The VM's identity: eth0 is QEMU's user network (10.0.2.15, SSH forwarded to it), a key
# made here for root, the same host keys in every VM (tests turn host key checks off).
ssh-keygen -q -t ed25519 -N '' -C nslab-molecule -f "$work/id_ed25519"
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
cat >"$rootfs/etc/systemd/network/10-eth0.network" <<'EOF'
# QEMU user networking: fixed addresses, no DHCP wait at boot.
[Match]
Name=eth0

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
EOF
echo '/dev/vda / ext4 defaults,noatime 0 1' >"$rootfs/etc/fstab"
echo nslab-vm >"$rootfs/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tnslab-vm\n' >"$rootfs/etc/hosts"
# Booting to SSH is most of a scenario's time: no waiting for "network online", no timers
# that start apt or fsck work in the middle of a test.
unshare --net --mount --pid --fork --kill-child chroot "$rootfs" sh -ec '
    systemctl enable systemd-networkd.service ssh.service
    systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
        e2scrub_all.timer e2scrub_reap.service fstrim.timer man-db.timer dpkg-db-backup.timer
    passwd -l root
' >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; exit 1; }

cp "$rootfs"/boot/vmlinuz-* "$work/vmlinuz"
cp "$rootfs"/boot/initrd.img-* "$work/initrd.img"
rm -f "$rootfs/usr/sbin/policy-rc.d"
rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/debootstrap "$rootfs"/var/log/bootstrap.log

# Room for the packages the role installs and the journal; sparse, so it costs nothing.
size_mib=$(( $(du -sm "$rootfs" | cut -f1) + 1536 ))
mkfs.ext4 -q -L nslab-root -d "$rootfs" "$work/root.raw" "${size_mib}M"
qemu-img convert -O qcow2 "$work/root.raw" "$work/base.qcow2"
rm -rf "$rootfs" "$work/root.raw"
chmod 0444 "$work/base.qcow2"

touch "$work/.complete"
rm -rf "$image"
mv "$work" "$image"
trap - EXIT
ln -sfn "$(basename "$image")" "$cache/$suite"
echo "vm-image: built in $((SECONDS - start)) s"
echo "$image" >&3
