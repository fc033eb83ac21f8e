#!/usr/bin/env bash
# Runs every Fuzz target of the host packages for a short time each
# (FUZZTIME, default 10s). Regression seeds under testdata/fuzz always run as
# part of `go test`; this script looks for new crashers.
set -euo pipefail
fuzztime=${FUZZTIME:-10s}
fail=0
for pkg in $(go list ./... | grep -v -e '/ci$' -e '/toolchain/'); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' || true)
	for t in $targets; do
		echo "fuzz: $pkg $t ($fuzztime)"
		if ! go test -run='^$' -fuzz="^$t\$" -fuzztime="$fuzztime" "$pkg" >/tmp/fuzz-$$.log 2>&1; then
			cat /tmp/fuzz-$$.log
			fail=1
		fi
	done
done
rm -f /tmp/fuzz-$$.log
exit $fail
