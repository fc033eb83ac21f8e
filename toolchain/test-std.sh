#!/usr/bin/env bash
# Runs Go's own tests of standard packages under GOOS=tamago GOARCH=amd64 as
# Linux processes (the in-tree runtime/goos user-space implementation), with
# Damselfly's toolchain (toolchain/go). Called by `make test-tamago-std`.
#
# Tests listed in toolchain/std-known-failures.txt are skipped (each with its
# reason there). Prints "std: N packages passed, M failed, T tests" and a last
# line "N passed, M failed"; exits non-zero if any package fails.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GO=${TAMAGO_GO:-$here/go} # TAMAGO_GO: another go command for the port (development)
known="$here/std-known-failures.txt"
jobs=${STD_JOBS:-2}
pkgs=${STD_PKGS:-"sync sync/atomic strings bytes strconv sort slices container/list container/heap
encoding/binary encoding/json encoding/base64 math/big crypto/sha256 crypto/aes hash/crc32
unicode/utf8 regexp compress/flate context errors fmt text/template"}

[ -n "${TAMAGO_GO:-}" ] || "$here/build.sh" # build the toolchain first, with its progress lines
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# skip_for prints the -skip pattern for a package from the known-failures
# file (lines: "<package> <TestName> <reason...>"; '#' starts a comment).
skip_for() {
	awk -v p="$1" '!/^#/ && $1 == p { printf "%s^%s$", sep, $2; sep = "|" }' "$known"
}

run_one() {
	local pkg=$1 f
	f="$out/$(echo "$pkg" | tr / _)"
	local skip
	skip=$(skip_for "$pkg")
	echo "std: testing $pkg" >&2
	# Run outside the module so only the standard library is involved.
	if (cd "$out" && GOOS=tamago GOARCH=amd64 GOFLAGS= GOOSPKG= "$GO" test -short -count=1 -timeout 10m \
		-json ${skip:+-skip "$skip"} "$pkg") >"$f.json" 2>"$f.err"; then
		echo pass >"$f.status"
	else
		echo fail >"$f.status"
	fi
}
export -f run_one skip_for
export out GO known

echo "$pkgs" | tr ' ' '\n' | grep -v '^$' | xargs -P "$jobs" -I{} bash -c 'run_one {}'

passed=0 failed=0 tests=0
for pkg in $pkgs; do
	f="$out/$(echo "$pkg" | tr / _)"
	n=$(grep -c '"Action":"pass","Package":"[^"]*","Test":' "$f.json" || true)
	tests=$((tests + n))
	if [ "$(cat "$f.status")" = pass ]; then
		passed=$((passed + 1))
		echo "ok   $pkg ($n tests)"
	else
		failed=$((failed + 1))
		echo "FAIL $pkg"
		grep -o '"Action":"fail","Package":"[^"]*","Test":"[^"]*"' "$f.json" | sed 's/.*"Test":"/    failed: /; s/"$//' | head -20
		grep -h '"Output":' "$f.json" | sed 's/.*"Output":"//; s/"}$//; s/\\n$//; s/\\t/\t/g' | grep -v '^=== \|^--- PASS\|^PASS\|^ok ' | tail -15 | sed 's/^/    | /'
		tail -5 "$f.err" | sed 's/^/    ! /'
	fi
done
echo "std: $passed packages passed, $failed failed, $tests tests"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
