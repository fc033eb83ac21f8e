#!/usr/bin/env bash
# Builds Damselfly's GOOS=tamago Go toolchain once and caches it.
#
#   toolchain/build.sh                 build if needed (progress on stderr)
#   toolchain/build.sh --print-goroot  build if needed, print the GOROOT
#
# The toolchain is Go 1.26.8 patched with toolchain/patches/*.patch (changes
# to existing files, applied with patch -p1) plus toolchain/overlay/ (new
# files, copied over the tree). Cache: ${DAMSELFLY_TOOLCHAIN_CACHE:-
# $HOME/.cache/damselfly/toolchain}/<key>/go, where <key> is the SHA-256 of
# the Go version, every file of the port and this script. <key>/.done marks a
# finished build. Concurrent callers serialize on a lock; the tree is built
# in a temporary directory and renamed into place.
set -euo pipefail

GO_VERSION=go1.26.8
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${DAMSELFLY_TOOLCHAIN_CACHE:-$HOME/.cache/damselfly/toolchain}

log() { echo "damselfly: $*" >&2; }

# cache_key hashes the Go version, the port (file names and contents) and
# this script.
cache_key() {
	(
		cd "$here"
		echo "$GO_VERSION"
		find patches overlay build.sh -type f | LC_ALL=C sort | while read -r f; do
			printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
		done
	) | sha256sum | cut -d' ' -f1
}

# source_goroot prints a Go 1.26.8 tree to copy (and to bootstrap with): the
# machine's Go when it is exactly that version, else the toolchain module
# from the Go module proxy.
source_goroot() {
	local hostgo
	for hostgo in /usr/local/go/bin/go "$(command -v go || true)"; do
		[ -x "$hostgo" ] || continue
		if [ "$("$hostgo" env GOVERSION 2>/dev/null)" = "$GO_VERSION" ]; then
			"$hostgo" env GOROOT
			return
		fi
	done
	local gobin
	gobin=$(command -v go || echo /usr/local/go/bin/go)
	log "host Go is not $GO_VERSION: fetching golang.org/toolchain@v0.0.1-$GO_VERSION.linux-amd64"
	local dir
	dir=$(cd /tmp && GOFLAGS=-mod=mod GOTOOLCHAIN=local "$gobin" mod download -json \
		"golang.org/toolchain@v0.0.1-$GO_VERSION.linux-amd64" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -n "$dir" ] || { log "cannot download the Go $GO_VERSION toolchain module"; exit 1; }
	echo "$dir"
}

build() {
	local key=$1 dest=$2
	local src
	src=$(source_goroot)
	local tmp
	tmp=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT

	log "building GOOS=tamago toolchain (one time, ~7 min)..."
	log "  source $src, cache $dest"
	mkdir -p "$tmp/go"
	(cd "$src" && tar cf - --exclude=./pkg --exclude=./bin .) | tar xf - -C "$tmp/go"
	chmod -R u+w "$tmp/go"
	local p
	for p in "$here"/patches/*.patch; do
		log "  patch $(basename "$p")"
		patch -s -p1 -d "$tmp/go" <"$p"
	done
	(cd "$here/overlay" && tar cf - --exclude=./go.mod .) | tar xf - -C "$tmp/go"
	echo "$GO_VERSION" >"$tmp/go/VERSION.damselfly"

	local start=$SECONDS
	(cd "$tmp/go/src" && GOROOT_BOOTSTRAP="$src" GOTOOLCHAIN=local GOROOT= GOOS= GOARCH= GOFLAGS= \
		CGO_ENABLED=0 ./make.bash) >&2
	log "  make.bash took $((SECONDS - start)) s"

	rm -rf "$dest"
	mkdir -p "$dest"
	mv "$tmp/go" "$dest/go"
	touch "$dest/.done"
	rm -rf "$tmp"
	trap - EXIT
}

main() {
	local key
	key=$(cache_key)
	local dest=$cache_root/$key
	if [ ! -e "$dest/.done" ]; then
		mkdir -p "$cache_root"
		exec 9>"$cache_root/$key.lock"
		flock 9
		# Another caller may have finished while we waited.
		[ -e "$dest/.done" ] || build "$key" "$dest"
		exec 9>&-
	fi
	if [ "${1:-}" = "--print-goroot" ]; then
		echo "$dest/go"
	fi
}

main "$@"
