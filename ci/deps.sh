#!/usr/bin/env bash
# Installs the Debian packages Damselfly's build and tests need, when missing.
# Safe to run repeatedly: it asks apt only for what is not installed yet.
set -euo pipefail

# command -> Debian package that provides it
declare -A want=(
	[qemu-system-x86_64]=qemu-system-x86
	[mke2fs]=e2fsprogs
	[debugfs]=e2fsprogs
	[e2fsck]=e2fsprogs
	[curl]=curl
	[wrk]=wrk
	[ab]=apache2-utils
	[nft]=nftables
	[ip]=iproute2
	[patch]=patch
	[rsync]=rsync
	[cpio]=cpio
	[gcc]=gcc # the packed image's 32-bit boot stub (kernel/pack/stub); binutils comes with it
)
missing=()
for cmd in "${!want[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}")
done
if ((${#missing[@]} == 0)); then
	exit 0
fi
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
echo "damselfly: installing Debian packages: $pkgs"
if [ "$(id -u)" -ne 0 ]; then
	sudo=sudo
else
	sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
