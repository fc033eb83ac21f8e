#!/usr/bin/env bash
# Builds toolchain/boottest with Damselfly's GOOS=tamago toolchain and boots it
# on QEMU microvm (TCG) with -smp 1, 2 and 4 (-cpu max: the tamago amd64
# package seeds its RNG with RDRAND, which the default qemu64 model lacks). Passes when every run prints
# from all CPUs and exits through isa-debug-exit with status 33.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BOOTTEST_OUT:-$(mktemp -d)}
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || { echo "boottest: $qemu not found (apt-get install qemu-system-x86)" >&2; exit 1; }

echo "boottest: building image" >&2
(cd "$repo" && GOOS=tamago GOARCH=amd64 GOOSPKG=github.com/usbarmory/tamago \
	"${TAMAGO_GO:-$repo/toolchain/go}" build -trimpath -ldflags "-T 0x10010000 -R 0x1000" -o "$out/boottest.elf" ./toolchain/boottest)
size=$(stat -c %s "$out/boottest.elf")
echo "boottest: image $out/boottest.elf, $size bytes" >&2

fail=0
for smp in ${SMP_LIST:-1 2 4}; do
	log=$out/smp$smp.log
	start=$(date +%s.%N)
	set +e
	# Time-stamp each console line to measure time to first print.
	timeout 180 "$qemu" -M microvm -cpu max -m 512M -nographic -no-reboot \
		-smp "$smp,sockets=1,cores=$smp,threads=1" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$out/boottest.elf" </dev/null 2>&1 |
		while IFS= read -r line; do echo "$(date +%s.%N) $line"; done >"$log"
	status=${PIPESTATUS[0]}
	set -e
	end=$(date +%s.%N)
	first=$(awk 'NR == 1 { print $1 }' "$log")
	cut -d' ' -f2- "$log" | sed 's/^/  | /' >&2
	if [ "$status" -ne 33 ]; then
		echo "boottest: smp $smp: FAIL: QEMU exit status $status (want 33)" >&2
		fail=1
		continue
	fi
	if ! grep -q "boottest: PASS $smp cpus" "$log"; then
		echo "boottest: smp $smp: FAIL: no PASS line for $smp cpus" >&2
		fail=1
		continue
	fi
	printf 'boottest: smp %s: ok (%.1f s total, first print after %.2f s)\n' "$smp" \
		"$(echo "$end - $start" | bc)" "$(echo "${first:-$end} - $start" | bc)" >&2
done
exit $fail
