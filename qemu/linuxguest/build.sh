#!/usr/bin/env bash
# Builds the Linux comparison guest from Debian packages only: the Debian
# cloud kernel (linux-image-cloud-amd64) and a busybox-static initramfs.
# Nothing is downloaded from outside Debian's archive (apt-get download +
# dpkg -x; nothing is installed on the host).
#
#   qemu/linuxguest/build.sh [options] [OUTDIR]          (default OUTDIR: build/linux)
#
# Options:
#   --modules "NAME ..."  kernel modules to put in the initramfs, with every
#                         module they depend on; /init loads them with busybox
#                         insmod, dependencies first. Names as modprobe spells
#                         them (virtio_net, virtio_blk, ext4). Modules built
#                         into the kernel (modules.builtin) are skipped with a
#                         note. Repeatable; the lists are joined.
#                         The cloud kernel's virtio drivers are modules: a
#                         guest on -M microvm needs "virtio_mmio virtio_net"
#                         (virtio_ring, virtio, failover, net_failover follow).
#   --add SRC:DST         copy the host file SRC to DST inside the initramfs
#                         (e.g. a static Go binary: --add build/x:/bin/x);
#                         its mode is kept. Repeatable.
#   --init FILE           a shell script (busybox sh) run by /init after the
#                         mounts and the module loading, in place of the
#                         default, which prints "linux: ready uptime=SECONDS"
#                         on the console and powers off (QEMU runs with
#                         -no-reboot and exits). It is stored as /etc/init.sh
#                         and exec'd, so it runs as PID 1: end it with
#                         "poweroff -f" or an exec that never returns.
#
# What /init does first: mounts /proc, /sys and /dev (devtmpfs) and points
# its standard streams at /dev/console (the serial port with
# console=ttyS0); every busybox applet is linked in /bin, so scripts call
# them by name. A module
# that fails to load is reported on the console as "linux: insmod NAME
# failed" and the boot goes on.
#
# Dependencies: Debian ships no modules.dep in the package (depmod writes it
# at install time), so they are read from each module's .modinfo
# "depends=" field, the list modpost derived from the symbols the module
# uses and the one depmod turns into modules.dep. Compressed modules
# (.ko.xz, .ko.zst) are decompressed with xz or zstd, since busybox insmod
# may lack the decompressor.
#
# Output: OUTDIR/vmlinuz, OUTDIR/initrd.img and OUTDIR/kernel-version.
set -euo pipefail

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
}

modules="" init_file="" out="" adds=()
while [ $# -gt 0 ]; do
	case $1 in
	--modules) [ $# -ge 2 ] || usage; modules="$modules $2"; shift 2 ;;
	--modules=*) modules="$modules ${1#*=}"; shift ;;
	--add) [ $# -ge 2 ] || usage; adds+=("$2"); shift 2 ;;
	--add=*) adds+=("${1#*=}"); shift ;;
	--init) [ $# -ge 2 ] || usage; init_file=$2; shift 2 ;;
	--init=*) init_file=${1#*=}; shift ;;
	-h | --help) usage ;;
	-*) echo "linuxguest: unknown option $1" >&2; usage ;;
	*) [ -z "$out" ] || usage; out=$1; shift ;;
	esac
done
out=${out:-build/linux}

# Check the inputs before fetching anything; keep them as absolute paths
# because the work happens in a temporary directory.
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
if [ -n "$init_file" ]; then
	[ -r "$init_file" ] || { echo "linuxguest: --init $init_file: cannot read it" >&2; exit 1; }
	init_file=$(abs "$init_file")
fi
for i in "${!adds[@]}"; do
	a=${adds[$i]}
	src=${a%%:*} dst=${a#*:}
	if [ "$src" = "$a" ] || [ -z "$src" ] || [ "${dst#/}" = "$dst" ]; then
		echo "linuxguest: --add $a: want SRC:/absolute/DST" >&2
		exit 1
	fi
	[ -f "$src" ] || { echo "linuxguest: --add $a: $src is not a file" >&2; exit 1; }
	adds[$i]="$(abs "$src"):$dst"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

kpkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
[ -n "$kpkg" ] || { echo "linuxguest: cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
echo "linuxguest: fetching $kpkg and busybox-static" >&2
apt-get download "$kpkg" busybox-static >/dev/null 2>&1 ||
	{ echo "linuxguest: apt-get download $kpkg busybox-static failed" >&2; exit 1; }
for d in *.deb; do dpkg -x "$d" root; done
# Outputs are made in the work directory and moved into OUTDIR together at
# the end, so a failed build leaves OUTDIR as it was.
mkdir -p result
cp root/boot/vmlinuz-* result/vmlinuz
kver=${kpkg#linux-image-}
echo "$kver" > result/kernel-version

mkdir -p initrd/bin initrd/proc initrd/sys initrd/dev initrd/etc initrd/lib/modules initrd/tmp initrd/mnt
cp root/bin/busybox initrd/bin/busybox
# busybox-static runs on the host too: ask it for its applets.
for app in $(root/bin/busybox --list); do
	[ "$app" = busybox ] || ln -sf busybox "initrd/bin/$app"
done

# Modules: index every .ko* of the package by module name (modprobe's
# spelling: dashes become underscores), then walk the dependencies depth
# first so that each module is listed after the ones it needs.
: > initrd/etc/modules
if [ -n "${modules// /}" ]; then
	moddir=root/lib/modules/$kver
	[ -d "$moddir" ] || { echo "linuxguest: $moddir missing from $kpkg" >&2; exit 1; }
	declare -A path builtin state
	while IFS= read -r f; do
		n=${f##*/}; n=${n%%.ko*}; path[${n//-/_}]=$f
	done < <(find "$moddir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	if [ -f "$moddir/modules.builtin" ]; then
		while IFS= read -r f; do
			n=${f##*/}; n=${n%.ko}; builtin[${n//-/_}]=1
		done < "$moddir/modules.builtin"
	fi
	# plain NAME: the uncompressed module file in the work directory.
	plain() {
		local f=${path[$1]} p=plain/$1.ko
		if [ ! -f "$p" ]; then
			mkdir -p plain
			case $f in
			*.ko.xz) xz -dc "$f" > "$p" ;;
			*.ko.zst) zstd -qdc "$f" > "$p" ;;
			*.ko.gz) gzip -dc "$f" > "$p" ;;
			*) cp "$f" "$p" ;;
			esac
		fi
		echo "$p"
	}
	# visit NAME: appends NAME's dependencies, then NAME, to etc/modules.
	visit() {
		local n=${1//-/_} p deps d
		case ${state[$n]:-} in
		done) return ;;
		active) echo "linuxguest: module dependency cycle through $n" >&2; exit 1 ;;
		esac
		if [ -n "${builtin[$n]:-}" ]; then
			echo "linuxguest: $n is built into the kernel" >&2
			state[$n]=done
			return
		fi
		[ -n "${path[$n]:-}" ] || { echo "linuxguest: no module $n in $kpkg" >&2; exit 1; }
		state[$n]=active
		p=$(plain "$n")
		deps=$(tr '\0' '\n' < "$p" | sed -n 's/^depends=//p' | head -1)
		for d in ${deps//,/ }; do visit "$d"; done
		cp "$p" "initrd/lib/modules/$n.ko"
		echo "$n" >> initrd/etc/modules
		state[$n]=done
	}
	for m in $modules; do visit "$m"; done
	echo "linuxguest: modules in load order: $(tr '\n' ' ' < initrd/etc/modules)" >&2
fi

for a in "${adds[@]}"; do
	src=${a%%:*} dst=${a#*:}
	mkdir -p "initrd$(dirname "$dst")"
	cp -p "$src" "initrd$dst"
done

if [ -n "$init_file" ]; then
	cp "$init_file" initrd/etc/init.sh
else
	cat > initrd/etc/init.sh <<'READY'
echo "linux: ready uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
READY
fi
chmod +x initrd/etc/init.sh

cat > initrd/init <<'INIT'
#!/bin/busybox sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# The kernel found no /dev/console in the archive before devtmpfs was
# mounted, so init has no standard streams until now.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1
for m in $(cat /etc/modules); do
	insmod /lib/modules/$m.ko || echo "linux: insmod $m failed"
done
exec sh /etc/init.sh
INIT
chmod +x initrd/init
(cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1) > result/initrd.img
mv result/vmlinuz result/kernel-version result/initrd.img "$out/"
ls -l "$out" >&2
