#!/bin/bash
# make stage, then the staged packages: the paths each installs, their run
# bits, no path installed by two packages, the command links resolving to the
# binary in the image, every shell script passing shellcheck, Lua scripts
# compiling, and each package's postinst (GluonCheckSite with check_site.lua
# embedded) accepting a valid site and rejecting a broken one.
set -euo pipefail
cd "$(dirname "$0")/../../.."
top=$PWD
export STAGE_ARCH=${STAGE_ARCH:-x86_64}
files/scripts/stage.sh >/dev/null
stage=$top/stage
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

bin=gluon-464xlat-bin
packages=(gluon-464xlat-clat gluon-464xlat-plat gluon-l3roamd-xlat)
declare -A cmd=([gluon-464xlat-clat]=xlat-clat [gluon-464xlat-plat]=xlat-plat [gluon-l3roamd-xlat]=l3roamd-xlat)

# 1. expected paths and run bits
f=$stage/$bin/usr/sbin/gluon-464xlat
if [ -f "$f" ] && [ -x "$f" ]; then pass "$bin: /usr/sbin/gluon-464xlat executable"; else fail "$bin: /usr/sbin/gluon-464xlat missing or not executable"; fi
for p in "${packages[@]}"; do
	l=$stage/$p/usr/sbin/${cmd[$p]}
	if [ -L "$l" ] && [ "$(readlink "$l")" = gluon-464xlat ]; then
		pass "$p: /usr/sbin/${cmd[$p]} -> gluon-464xlat"
	else
		fail "$p: /usr/sbin/${cmd[$p]} is not a link to gluon-464xlat"
	fi
	i=$stage/$p/etc/init.d/$p
	if [ -f "$i" ] && [ -x "$i" ] && head -n1 "$i" | grep -qx '#!/bin/sh /etc/rc.common'; then
		pass "$p: /etc/init.d/$p executable rc.common script"
	else
		fail "$p: /etc/init.d/$p missing, not executable or not an rc.common script"
	fi
	if [ -x "$stage/$p/CONTROL/postinst" ] && grep -q "lib/gluon/check-site.lua" "$stage/$p/CONTROL/postinst"; then
		pass "$p: postinst runs check_site.lua"
	else
		fail "$p: no postinst with check_site.lua"
	fi
	for u in "$stage/$p"/lib/gluon/upgrade/*; do
		[ -e "$u" ] || continue
		name=${u##*/}
		if [ -f "$u" ] && [ -x "$u" ] && [[ $name =~ ^[0-9]{3}-[a-z0-9-]+$ ]]; then
			pass "$p: /lib/gluon/upgrade/$name executable"
		else
			fail "$p: /lib/gluon/upgrade/$name must be an executable file named NNN-name"
		fi
	done
	for x in "$stage/$p"/etc/init.d/* "$stage/$p"/usr/sbin/* "$stage/$p"/usr/bin/* "$stage/$p"/lib/gluon/*/*; do
		if [ -L "$x" ] || [ ! -f "$x" ]; then continue; fi # links: checked in the image below
		[ -x "$x" ] || fail "$p: ${x#"$stage/$p"} not executable"
	done
done

f=$stage/gluon-l3roamd-xlat/etc/hotplug.d/dhcp/50-gluon-l3roamd-xlat
if [ -f "$f" ] && grep -q 'l3roamd-xlat}" lease' "$f"; then pass "gluon-l3roamd-xlat: dhcp hotplug hook hands leases to l3roamd-xlat"; else fail "gluon-l3roamd-xlat: no /etc/hotplug.d/dhcp/50-gluon-l3roamd-xlat"; fi

# 2. no path installed by two packages (directories may be shared)
dups=$(for p in "$bin" "${packages[@]}"; do
	(cd "$stage/$p" && find . -path ./CONTROL -prune -o ! -type d -print)
done | sort | uniq -d)
if [ -z "$dups" ]; then pass "no path installed by two packages"; else fail "installed by two packages: $dups"; fi

# 3. in the image every link resolves, and the names reach the binary
while IFS= read -r -d '' l; do
	if [ -e "$l" ]; then pass "link ${l#"$stage/rootfs"} resolves"; else fail "dangling link ${l#"$stage/rootfs"}"; fi
done < <(find "$stage/rootfs" -type l -print0)
if [ "$STAGE_ARCH" = x86_64 ] && [ "$(uname -m)" = x86_64 ]; then
	for c in "${cmd[@]}"; do
		if out=$("$stage/rootfs/usr/sbin/$c" --help 2>&1) && grep -q "usage: $c" <<<"$out"; then
			pass "$c --help runs the $c command of the binary"
		else
			fail "$c --help: $out"
		fi
	done
fi

# 4. scripts: shellcheck for shell, luac for Lua
while IFS= read -r -d '' s; do
	rel=${s#"$stage/"}
	first=$(head -n1 "$s" 2>/dev/null | tr -d '\0' || true)
	case $first in
	'#!/bin/sh'* | '#!/bin/ash'* | '#!/usr/bin/env sh'*)
		if shellcheck -s sh "$s"; then pass "shellcheck $rel"; else fail "shellcheck $rel"; fi ;;
	'#!/bin/bash'* | '#!/usr/bin/env bash'*)
		if shellcheck "$s"; then pass "shellcheck $rel"; else fail "shellcheck $rel"; fi ;;
	'#!/usr/bin/lua'* | '#!/usr/bin/env lua'*)
		if luac5.1 -p "$s"; then pass "luac -p $rel"; else fail "luac -p $rel"; fi ;;
	esac
done < <(find "$stage" -path "$stage/rootfs" -prune -o -type f ! -name gluon-464xlat -print0)

# 5. the postinst, as at image build: a valid site passes, a broken one fails
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/root/lib/gluon" "$tmp/host/bin"
cp files/scripts/checksite/postinst-driver.lua "$tmp/root/lib/gluon/check-site.lua"
ln -s "$(command -v lua5.1)" "$tmp/host/bin/lua"
cat >"$tmp/good.conf" <<'CONF'
{
	node_prefix6 = 'fdca:ffee:80:1::/64',
	prefix4 = '10.80.0.0/16',
	next_node = { ip4 = '10.80.0.1' },
	clat_range = 'fdff:ffff:ffff::/48',
	plat_range = 'fdff:ffff:fffe::/48',
	xlat464 = { roam_port = 5524, blocked_ipv4 = { '100.64.0.0/10' } },
}
CONF
cat >"$tmp/bad.conf" <<'CONF'
{
	prefix4 = '10.80.0.0/16',
	next_node = { ip4 = '10.80.0.1' },
	clat_range = 'fdff:ffff:ffff::/64',
	plat_range = 'fdff::/48',
	xlat464 = { roam_port = 0 },
}
CONF
postinst() { # PKG SITE [DOMAINS]
	env IPKG_INSTROOT="$tmp/root" STAGING_DIR_HOSTPKG="$tmp/host" XLAT_HARNESS_DIR="$top/files/scripts/checksite" \
		XLAT_SITE="$2" XLAT_DOMAINS="${3:-}" sh "$stage/$1/CONTROL/postinst"
}
for p in "${packages[@]}"; do
	if postinst "$p" "$tmp/good.conf" >/dev/null 2>"$tmp/err"; then pass "$p postinst: valid site accepted"; else fail "$p postinst: valid site rejected: $(cat "$tmp/err")"; fi
	if postinst "$p" "$tmp/bad.conf" >/dev/null 2>"$tmp/err"; then
		fail "$p postinst: broken site accepted"
	elif grep -q '^\*\*\* site.conf error: expected' "$tmp/err"; then
		pass "$p postinst: broken site rejected ($(head -c 60 "$tmp/err")...)"
	else
		fail "$p postinst: unexpected failure: $(cat "$tmp/err")"
	fi
	# the feed's own site example, when there is one
	ex=files/site-example
	if [ -f "$ex/site.conf" ]; then
		d=
		[ -d "$ex/domains" ] && d=$top/$ex/domains
		if postinst "$p" "$top/$ex/site.conf" "$d" >/dev/null 2>"$tmp/err"; then
			pass "$p postinst: $ex accepted"
		else
			fail "$p postinst: $ex rejected: $(cat "$tmp/err")"
			if grep -q 'allowed in domain configuration only' "$tmp/err"; then
				echo "     (with domains/, Gluon's own checks want prefix4, next_node.*, prefix6, node_prefix6 in the domain files too)"
			fi
		fi
	fi
done

echo "stage test: $fails failed"
[ "$fails" -eq 0 ]
