#!/usr/bin/env bash
# Builds the Linux comparison guest from Debian packages only: the Debian
# cloud kernel (linux-image-cloud-amd64) and a busybox-static initramfs
# whose /init prints "linux: ready" on the serial console and powers off
# (QEMU runs with -no-reboot and exits).
#
#   qemu/linuxguest/build.sh [OUTDIR]      (default build/linux)
#
# Output: OUTDIR/vmlinuz and OUTDIR/initrd.img. Nothing is downloaded from
# outside Debian's archive (apt-get download + dpkg -x; nothing installed).
set -euo pipefail
out=${1:-build/linux}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

kpkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || { echo "linuxguest: cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
echo "linuxguest: fetching $kpkg and busybox-static" >&2
apt-get download "$kpkg" busybox-static >/dev/null 2>&1
for d in *.deb; do dpkg -x "$d" root; done
cp root/boot/vmlinuz-* "$out/vmlinuz"

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev
cp root/bin/busybox initrd/bin/busybox
cat > initrd/init <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev 2>/dev/null
echo "linux: ready uptime=$(/bin/busybox cut -d' ' -f1 /proc/uptime)" > /dev/console
/bin/busybox poweroff -f
INIT
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initrd.img"
ls -l "$out" >&2
