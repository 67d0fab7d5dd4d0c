#!/bin/bash
# make stage: the install tree of every package, as the OpenWrt/Gluon build
# would put it into the .ipk, under stage/<package>/, plus stage/rootfs/ (all
# packages together, as in the image).
#
#   gluon-464xlat-bin    /usr/sbin/gluon-464xlat, cross-compiled for
#                        STAGE_ARCH (gluon-464xlat-bin/Makefile: GoBinPackage
#                        with GO_PKG_INSTALL_BIN_PATH)
#   gluon-464xlat-clat,  ./files/. copied as is (Gluon/Build/Install: cp -fpR,
#   gluon-464xlat-plat,  modes and symlinks kept), and CONTROL/postinst, the
#   gluon-l3roamd-xlat   script BuildPackageGluon makes from check_site.lua
#                        (GluonCheckSite: check_site.lua is not installed, it
#                        is embedded in the postinst and piped into Gluon's
#                        /lib/gluon/check-site.lua at image build).
#
# STAGE_ARCH: x86_64 (default), mips_24kc, mipsel_24kc, arm_cortex-a7, aarch64.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
export PATH=$PATH:/usr/local/go/bin
arch=${STAGE_ARCH:-x86_64}
case $arch in
mips_24kc) goenv="GOARCH=mips GOMIPS=softfloat" ;;
mipsel_24kc) goenv="GOARCH=mipsle GOMIPS=softfloat" ;;
arm_cortex-a7) goenv="GOARCH=arm GOARM=7" ;;
aarch64) goenv="GOARCH=arm64" ;;
x86_64) goenv="GOARCH=amd64" ;;
*)
	echo "stage: unknown STAGE_ARCH $arch" >&2
	exit 2
	;;
esac
packages=(gluon-464xlat-clat gluon-464xlat-plat gluon-l3roamd-xlat)
stage=$top/stage
rm -rf "$stage"
mkdir -p "$stage/gluon-464xlat-bin/usr/sbin"

# one retry: with several go commands sharing the build cache, a build has
# been seen failing with "could not import X (open : no such file)"
for try in 1 2; do
	# shellcheck disable=SC2086 # goenv is a word list on purpose
	if (cd src && env CGO_ENABLED=0 GOOS=linux $goenv \
		go build -trimpath -ldflags '-s -w' -o "$stage/gluon-464xlat-bin/usr/sbin/gluon-464xlat" ./cmd/gluon-464xlat); then
		break
	fi
	[ $try = 1 ] || exit 1
	echo "stage: build failed, retrying once" >&2
done
chmod 755 "$stage/gluon-464xlat-bin/usr/sbin/gluon-464xlat"

for p in "${packages[@]}"; do
	mkdir -p "$stage/$p"
	if [ -d "$top/$p/files" ]; then
		cp -fpR "$top/$p/files/." "$stage/$p/"
	fi
	if [ -f "$top/$p/check_site.lua" ]; then
		mkdir -p "$stage/$p/CONTROL"
		{
			echo '#!/bin/sh'
			# shellcheck disable=SC2016 # the postinst expands these, not we
			echo '[ -z "$STAGING_DIR_HOSTPKG" ] || PATH="$STAGING_DIR_HOSTPKG/bin:$PATH"'
			# shellcheck disable=SC2016
			echo 'lua "$IPKG_INSTROOT/lib/gluon/check-site.lua" <<'\''END__GLUON__CHECK__SITE'\'''
			cat "$top/$p/check_site.lua"
			echo 'END__GLUON__CHECK__SITE'
		} >"$stage/$p/CONTROL/postinst"
		chmod 755 "$stage/$p/CONTROL/postinst"
	fi
done

# the image's view: every package's tree in one root (CONTROL/ is not installed)
mkdir -p "$stage/rootfs"
for p in gluon-464xlat-bin "${packages[@]}"; do
	tar -C "$stage/$p" --exclude=./CONTROL -cf - . | tar -C "$stage/rootfs" -xpf -
done
echo "stage: $arch packages in $stage:"
for p in gluon-464xlat-bin "${packages[@]}"; do
	n=$(cd "$stage/$p" && find . -path ./CONTROL -prune -o \( -type f -o -type l \) -print | wc -l)
	echo "  $p ($n paths)"
done
