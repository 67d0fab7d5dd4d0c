#!/bin/bash
# make sizes: what the feed adds to a firmware image, per architecture.
#
# Cross-compiles src/cmd/gluon-464xlat (the one multi-call binary that
# gluon-464xlat-bin/Makefile builds and installs) with CGO_ENABLED=0 -trimpath -ldflags '-s -w'
# for the usual Gluon targets, and measures each Gluon package's own files
# (its files/ tree: command link, init script, upgrade scripts). "xz" is
# `xz -9e --check=crc32` of the binary, and of each package's regular files
# concatenated. squashfs (OpenWrt: xz, 256 KiB blocks) compresses each block
# on its own, which costs a few percent more: "xz_256k" is the sum of
# `xz -9e` over 256 KiB pieces (it leaves out squashfs' BCJ filter, which
# gains some back).
#
#   SIZES_JSON=FILE  also write {"mips_24kc":{"PACKAGE":{"bytes":..,"xz_bytes":..,
#                    "xz256k_bytes":..}},...}
#   SIZES_ARCHS="mips_24kc x86_64"  only these architectures
#   SIZES_BUDGET=1572864  xz bytes the three packages may add on mips_24kc
#                         (1.5 MiB); exceeding it is reported, and with
#                         SIZES_STRICT=1 it fails.
#
# The OpenWrt build links with the target's gcc (cgo, -linkmode external) and
# strips with `strip --strip-all`; its binary differs from this one by a few
# KiB (unmeasured here: no OpenWrt toolchain on this machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export PATH=$PATH:/usr/local/go/bin

# OpenWrt arch name -> GOOS/GOARCH settings
declare -A goenv=(
	[mips_24kc]="GOARCH=mips GOMIPS=softfloat"
	[mipsel_24kc]="GOARCH=mipsle GOMIPS=softfloat"
	[arm_cortex-a7]="GOARCH=arm GOARM=7"
	[aarch64]="GOARCH=arm64"
	[x86_64]="GOARCH=amd64"
)
read -r -a archs <<<"${SIZES_ARCHS:-mips_24kc mipsel_24kc arm_cortex-a7 aarch64 x86_64}"
packages=(gluon-464xlat-clat gluon-464xlat-plat gluon-l3roamd-xlat)
budget=${SIZES_BUDGET:-1572864}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

xzsize() { xz -9e --check=crc32 -c | wc -c; }

# xz256k FILE: sum of xz -9e over the file's 256 KiB pieces
xz256k() {
	local d n t=0
	d=$(mktemp -d -p "$tmp")
	split -b 262144 "$1" "$d/p"
	for n in "$d"/p*; do t=$((t + $(xzsize <"$n"))); done
	rm -rf "$d"
	echo "$t"
}

# pkgfiles PKG: the package's regular files (what Gluon/Build/Install copies)
pkgfiles() { find "$top/$1/files" -type f -print0 2>/dev/null | sort -z; }

declare -A bytes xzbytes
for p in "${packages[@]}"; do
	if [ -d "$top/$p/files" ]; then
		bytes[$p]=$(pkgfiles "$p" | xargs -0 -r cat | wc -c)
		xzbytes[$p]=$(pkgfiles "$p" | xargs -0 -r cat | xzsize)
	else
		bytes[$p]=0 xzbytes[$p]=0
	fi
done

json="{"
status=0
printf '%-14s %-22s %10s %10s %10s\n' arch package bytes xz_bytes xz_256k
for a in "${archs[@]}"; do
	[ -n "${goenv[$a]:-}" ] || { echo "sizes: unknown arch $a" >&2; exit 2; }
	out=$tmp/gluon-464xlat.$a
	# one retry: with several go commands sharing the build cache, a build
	# has been seen failing with "could not import X (open : no such file)"
	# shellcheck disable=SC2086 # goenv values are word lists on purpose
	for try in 1 2; do
		if (cd src && env CGO_ENABLED=0 GOOS=linux ${goenv[$a]} \
			go build -trimpath -ldflags '-s -w' -o "$out" ./cmd/gluon-464xlat); then
			break
		fi
		[ $try = 1 ] || exit 1
		echo "sizes: build for $a failed, retrying once" >&2
	done
	b=$(stat -c %s "$out")
	x=$(xzsize <"$out")
	k=$(xz256k "$out")
	printf '%-14s %-22s %10d %10d %10d\n' "$a" gluon-464xlat-bin "$b" "$x" "$k"
	tb=$b tx=$x tk=$k
	entry="\"gluon-464xlat-bin\":{\"bytes\":$b,\"xz_bytes\":$x,\"xz256k_bytes\":$k}"
	for p in "${packages[@]}"; do
		printf '%-14s %-22s %10d %10d %10d\n' "$a" "$p" "${bytes[$p]}" "${xzbytes[$p]}" "${xzbytes[$p]}"
		tb=$((tb + bytes[$p])) tx=$((tx + xzbytes[$p])) tk=$((tk + xzbytes[$p]))
		entry="$entry,\"$p\":{\"bytes\":${bytes[$p]},\"xz_bytes\":${xzbytes[$p]},\"xz256k_bytes\":${xzbytes[$p]}}"
	done
	printf '%-14s %-22s %10d %10d %10d\n' "$a" total "$tb" "$tx" "$tk"
	[ "$json" = "{" ] || json="$json,"
	json="$json\"$a\":{$entry}"
	if [ "$a" = mips_24kc ]; then
		if [ "$tx" -le "$budget" ]; then
			echo "sizes: mips_24kc total $tx xz bytes <= budget $budget (in 256 KiB blocks: $tk)"
		else
			echo "sizes: mips_24kc total $tx xz bytes EXCEEDS budget $budget (in 256 KiB blocks: $tk)" >&2
			[ "${SIZES_STRICT:-0}" != 1 ] || status=1
		fi
	fi
done
json="$json}"
if [ -n "${SIZES_JSON:-}" ]; then
	printf '%s\n' "$json" >"$SIZES_JSON"
	echo "sizes: wrote $SIZES_JSON"
fi
exit $status
