#!/bin/bash
# The package Makefiles, evaluated by GNU make against small stand-ins for
# OpenWrt's rules.mk/package.mk, Gluon's gluon.mk and the packages feed's
# golang-package.mk (only the names the Makefiles use; no OpenWrt tree here).
#
# gluon-464xlat-bin/Makefile is a plain OpenWrt package: it includes only
# rules.mk, package.mk and golang-package.mk and evaluates in a buildroot
# without Gluon; it defines only the Go binary package (GoBinPackage,
# GO_ARCH_DEPENDS, kmod-tun) with golang-package.mk's Build/Compile; GO_PKG
# is src/go.mod's module path, the built command exists, Build/Prepare
# copies the feed's src/ (vendor/ included).
# The three Gluon packages are short BuildPackageGluon Makefiles (at most 20
# lines, no Go build, one package each) that depend on gluon-464xlat-bin,
# have a postinst (they have a check_site.lua) and name each of their
# dependencies in their docs page.
# Every DEPENDS name (all four packages) must be a package a Gluon v2023.2
# build offers as recorded in files/facts/gluon-v2023.2-packages.txt (not a
# virtual name such as iptables, which resolves to iptables-nft, nor plain
# dnsmasq beside Gluon's dnsmasq-full); the packages name what the code
# needs (kmod-nf-conntrack-netlink for roamd's conntrack flush, the -zz-legacy
# iptables CLIs Gluon uses, dnsmasq-full) and declare no CONFLICTS, so they
# install beside Gluon's gluon-l3roamd.
set -euo pipefail
cd "$(dirname "$0")/../../.."
top=$PWD
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/openwrt/include" "$t/package" "$t/openwrt/feeds/packages/lang/golang"
cat >"$t/openwrt/rules.mk" <<'MK'
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build
CP:=cp -fpR
MK
cat >"$t/openwrt/include/package.mk" <<'MK'
# stand-in: records each package's fields instead of building it
PKG_BUILD_DIR?=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
Build/Compile=default-compile
define BuildPackage
SECTION:=
CATEGORY:=
TITLE:=
DEPENDS:=
CONFLICTS:=
$$(eval $$(Package/$(1)))
PKGS+=$(1)
F_$(1)_SECTION:=$$(SECTION)
F_$(1)_DEPENDS:=$$(DEPENDS)
F_$(1)_CONFLICTS:=$$(CONFLICTS)
F_$(1)_INSTALL:=$$(or $$(strip $$(value Package/$(1)/install)),no)
F_$(1)_POSTINST:=$$(or $$(strip $$(value Package/$(1)/postinst)),no)
endef
MK
cat >"$t/package/gluon.mk" <<'MK'
# stand-in for Gluon's gluon.mk: includes package.mk, sets its own compile
PKG_VERSION?=1
include $(INCLUDE_DIR)/package.mk
Build/Compile=gluon-compile
define BuildPackageGluon
Package/$(1)/install?=gluon-install
$(if $(wildcard check_site.lua),Package/$(1)/postinst:=gluon-check-site)
$$(eval $$(call BuildPackage,$(1)))
F_$(1)_SECTION:=gluon
endef
MK
cat >"$t/openwrt/feeds/packages/lang/golang/golang-package.mk" <<'MK'
# stand-in for the packages feed's golang-package.mk
GO_ARCH_DEPENDS:=@(aarch64||arm||i386||i686||mips||mipsel||x86_64)
ifneq ($(strip $(GO_PKG)),)
Build/Configure=go-configure
Build/Compile=go-compile
endif
define GoBinPackage
Package/$(1)/install?=go-install-bin
endef
MK
cat >"$t/show.mk" <<'MK'
show:
	@echo 'PKGS=$(strip $(PKGS))'
	@echo 'COMPILE=$(value Build/Compile)'
	@echo 'GO_PKG=$(GO_PKG)'
	@echo 'GO_PKG_BUILD_PKG=$(GO_PKG_BUILD_PKG)'
	@echo 'GO_PKG_INSTALL_EXTRA=$(GO_PKG_INSTALL_EXTRA)'
	@echo 'GO_PKG_INSTALL_BIN_PATH=$(GO_PKG_INSTALL_BIN_PATH)'
	@$(foreach p,$(PKGS),echo 'PKG $(p) section=$(F_$(p)_SECTION) install=$(F_$(p)_INSTALL) postinst=$(F_$(p)_POSTINST) conflicts=$(strip $(F_$(p)_CONFLICTS)) depends=$(strip $(F_$(p)_DEPENDS))';)
prepare:
	$(Build/Prepare)
MK

show() { # DIR
	make -s --no-print-directory -C "$top/$1" -f Makefile -f "$t/show.mk" TOPDIR="$t/openwrt" show
}
field() { sed -n "s/^$1=//p" <<<"$2"; }
pkgline() { grep "^PKG $1 " <<<"$2" || true; }
is() { # ACTUAL WANT WHAT
	if [ "$1" = "$2" ]; then pass "$3"; else fail "$3: got '$1', want '$2'"; fi
}

module=$(sed -n 's/^module //p' src/go.mod)
facts=files/facts/gluon-v2023.2-packages.txt
# known NAME: prints the kind of NAME in the facts file ("" if absent)
known() { awk -v n="$1" '$1 !~ /^#/ && $2 == n { print $1; exit }' "$facts"; }
# checkdeps PKG DEPS...: every dependency a package Gluon v2023.2 offers
checkdeps() {
	local p=$1 dep name kind ok=1
	shift
	for dep in "$@"; do
		case $dep in @*) continue ;; esac # GO_ARCH_DEPENDS and other conditions
		name=${dep#+}
		kind=$(known "$name")
		case $kind in
		package) ;;
		'') fail "$p: dependency $name is not in $facts"; ok=0 ;;
		*) fail "$p: dependency $name is $kind in Gluon v2023.2 ($(awk -v n="$name" '$2 == n { $1 = $2 = $3 = ""; print; exit }' "$facts" | sed 's/^ *//'))"; ok=0 ;;
		esac
	done
	[ $ok = 0 ] || pass "$p: every dependency is a package of Gluon v2023.2 ($facts)"
}
declare -A required=(
	[gluon-464xlat-clat]="kmod-nat46"
	[gluon-464xlat-plat]="kmod-nat46 iptables-zz-legacy ip6tables-zz-legacy ip6tables-mod-nat kmod-ipt-nat6 kmod-ipt-nat"
	[gluon-l3roamd-xlat]="kmod-nf-conntrack-netlink dnsmasq-full ip6tables-zz-legacy ip6tables-mod-nat kmod-ipt-nat6 iptables-mod-nat-extra kmod-ipt-ipset ipset kmod-ipt-raw6"
)

# gluon-464xlat-bin: plain OpenWrt, evaluated where no gluon.mk exists
d=gluon-464xlat-bin
mkdir -p "$t/plain"
cp -r "$t/openwrt" "$t/plain/openwrt"
incs=$(sed -n 's/^include[[:space:]]\+//p' "$d/Makefile" | tr '\n' ' ')
# shellcheck disable=SC2016 # make variables, literally
is "$incs" '$(TOPDIR)/rules.mk $(INCLUDE_DIR)/package.mk $(TOPDIR)/feeds/packages/lang/golang/golang-package.mk ' \
	"$d/Makefile includes only rules.mk, package.mk, golang-package.mk"
if ! out=$(make -s --no-print-directory -C "$top/$d" -f Makefile -f "$t/show.mk" TOPDIR="$t/plain/openwrt" show 2>&1); then
	fail "$d/Makefile does not evaluate without Gluon: $out"
else
	pass "$d/Makefile evaluates in a buildroot without Gluon"
	is "$(field PKGS "$out")" "gluon-464xlat-bin" "$d Makefile defines only gluon-464xlat-bin"
	is "$(field COMPILE "$out")" go-compile "Build/Compile is golang-package.mk's"
	is "$(field GO_PKG "$out")" "$module" "GO_PKG is src/go.mod's module path"
	bp=$(field GO_PKG_BUILD_PKG "$out")
	is "$(test -d "src/${bp#"$module"/}" && echo yes)" yes "GO_PKG_BUILD_PKG $bp exists under src/"
	is "$(grep -ow 'vendor/modules.txt' <<<"$(field GO_PKG_INSTALL_EXTRA "$out")")" vendor/modules.txt "GO_PKG_INSTALL_EXTRA keeps vendor/modules.txt"
	is "$(field GO_PKG_INSTALL_BIN_PATH "$out")" /usr/sbin "binary installed to /usr/sbin"
	bin=$(pkgline gluon-464xlat-bin "$out")
	# shellcheck disable=SC2086 # the dependency list is split on purpose
	checkdeps gluon-464xlat-bin ${bin#*depends=}
	case $bin in
	*"section=net install=go-install-bin postinst=no conflicts= depends=@("*"+kmod-tun"*) pass "gluon-464xlat-bin: GoBinPackage, GO_ARCH_DEPENDS, kmod-tun" ;;
	*) fail "gluon-464xlat-bin: $bin" ;;
	esac
	grep -q 'gluon-464xlat-bin' files/docs/packages/gluon-464xlat-bin.rst || fail "no docs page for gluon-464xlat-bin"
	if make -s --no-print-directory -C "$top/$d" -f Makefile -f "$t/show.mk" TOPDIR="$t/plain/openwrt" PKG_BUILD_DIR="$t/build" prepare >/dev/null &&
		[ -f "$t/build/go.mod" ] && [ -d "$t/build/cmd/gluon-464xlat" ] && [ -f "$t/build/vendor/modules.txt" ] && [ -f "$t/build/LICENSE" ]; then
		pass "Build/Prepare copies the feed's src/ (vendor/ included) and LICENSE"
	else
		fail "Build/Prepare did not copy src/ into PKG_BUILD_DIR"
	fi
fi

for d in gluon-464xlat-clat gluon-464xlat-plat gluon-l3roamd-xlat; do
	if ! out=$(show "$d" 2>&1); then
		fail "$d/Makefile does not evaluate: $out"
		continue
	fi
	pass "$d/Makefile evaluates"
	n=$(wc -l <"$d/Makefile")
	if [ "$n" -le 20 ] && ! grep -q 'golang' "$d/Makefile"; then
		pass "$d/Makefile: $n lines, no Go build"
	else
		fail "$d/Makefile: $n lines (want <= 20) or builds Go"
	fi
	is "$(field PKGS "$out")" "$d" "$d Makefile defines only $d"
	line=$(pkgline "$d" "$out")
	case $line in
	*"section=gluon install=gluon-install postinst=gluon-check-site conflicts= "*) pass "$d: Gluon package, default install, postinst from check_site.lua" ;;
	*) fail "$d: not a Gluon package with install and check_site postinst, without CONFLICTS: $line" ;;
	esac
	deps=${line#*depends=}
	for need in +gluon-core +gluon-mesh-babel +gluon-464xlat-bin; do
		[[ " $deps " == *" $need "* ]] || fail "$d: DEPENDS lacks $need"
	done
	miss=
	for need in ${required[$d]}; do
		[[ " $deps " == *" +$need "* ]] || miss="$miss $need"
	done
	if [ -z "$miss" ]; then pass "$d: depends on what its code uses: ${required[$d]}"; else fail "$d: DEPENDS lacks$miss"; fi
	# shellcheck disable=SC2086
	checkdeps "$d" $deps
	doc=files/docs/packages/$d.rst
	for dep in $deps; do
		name=${dep#+}
		grep -q -- "$name" "$doc" || fail "$d: dependency $name not named in $doc"
	done
	pass "$d: depends on $deps"
done
echo "package Makefiles: $fails failed"
[ "$fails" -eq 0 ]
