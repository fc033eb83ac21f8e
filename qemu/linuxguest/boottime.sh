#!/usr/bin/env bash
# Measures QEMU start to the first "ready" line on the serial console for
# Damselfly and for the Linux comparison guest, alternately (A B A B ...),
# in the same QEMU (-M microvm, TCG unless KVM is usable), same vCPUs and
# memory, and prints each run and the medians.
#
#   qemu/linuxguest/boottime.sh [RUNS]     (default 5; needs make kernel and
#                                           qemu/linuxguest/build.sh first)
set -euo pipefail
runs=${1:-5}
kernel=${KERNEL:-build/kernel.elf}
linux=${LINUX:-build/linux}
accel="-accel tcg -cpu max"
[ -w /dev/kvm ] && accel="-accel kvm -cpu host"
common=(-M microvm -m 256M -smp 1 -nodefaults -no-user-config -display none -serial stdio
	-no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 $accel)

# ms_to_ready CMD...: milliseconds from start until a line with "ready".
ms_to_ready() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" 2>/dev/null | grep -a -m1 'ready' >/dev/null || true
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

d=() l=()
for i in $(seq "$runs"); do
	d+=("$(ms_to_ready timeout 60 qemu-system-x86_64 "${common[@]}" -kernel "$kernel" -append poweroff)")
	l+=("$(ms_to_ready timeout 60 qemu-system-x86_64 "${common[@]}" -kernel "$linux/vmlinuz" \
		-initrd "$linux/initrd.img" -append "console=ttyS0 quiet")")
	echo "run $i: damselfly ${d[-1]} ms, linux ${l[-1]} ms" >&2
done
dm=$(printf '%s\n' "${d[@]}" | median)
lm=$(printf '%s\n' "${l[@]}" | median)
echo "QEMU start to ready, median of $runs: damselfly $dm ms, linux $lm ms (linux/damselfly $(awk "BEGIN {printf \"%.1f\", $lm/$dm}")x)"
