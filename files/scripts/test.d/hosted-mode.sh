#!/bin/bash
# Hosted mode of the init scripts (gluon-464xlat.procd.hosted='1',
# files/docs/memory.md), run without OpenWrt: each role script is sourced by
# a POSIX sh with uci, procd_* and the gluon-464xlat binary replaced by
# functions that log; start must declare the role and start it in the host
# (no procd instance of its own), reload must restart it only when the config
# file or the netdev's ifindex changed, stop must undeclare and stop it; the
# host script must run `gluon-464xlat host --roles-dir ...` only when hosted.
set -euo pipefail
cd "$(dirname "$0")/../../.."
top=$PWD
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/net/br-client" "$tmp/net/br-wan" "$tmp/init.d"
echo 7 >"$tmp/net/br-client/ifindex"
echo 8 >"$tmp/net/br-wan/ifindex"
echo "config clat 'clat'" >"$tmp/config"
: >"$tmp/init.d/gluon-464xlat-host"
chmod +x "$tmp/init.d/gluon-464xlat-host"
printf '#!/bin/sh\necho "bin $*" >>"%s/calls"\n[ "$1 $2" != "host-ctl start" ] || exit "${HOSTCTL_RC:-0}"\n' "$tmp" >"$tmp/bin"
chmod +x "$tmp/bin"

# run SCRIPT HOSTED ACTION...: sources SCRIPT with the hosted helper from
# the feed, runs the rc.common hooks named by ACTION, prints the calls.
run() {
	: >"$tmp/calls"
	(cd "$tmp" && XLAT_ROLES=$tmp/roles XLAT_BIN=$tmp/bin XLAT_HOST_INIT=$tmp/init.d/gluon-464xlat-host \
		XLAT_CONFIG_FILE=$tmp/config XLAT_SYS_NET=$tmp/net sh -s "$top/$1" "$2" "$top" "$tmp" "${@:3}" <<'SH'
script=$1 hosted=$2 top=$3 tmp=$4
shift 4
procd_open_instance() { echo "open_instance" >>"$tmp/calls"; }
procd_set_param() { echo "set_param $*" >>"$tmp/calls"; }
procd_close_instance() { :; }
start() { echo "rc.common start" >>"$tmp/calls"; }
uci() {
	case "$*" in
	"-q get gluon-464xlat.procd.hosted") [ "$hosted" = 1 ] && echo 1; return 0 ;;
	*.procd.* | *.*_device | *.*_bridge | *.*file*) return 1 ;;
	*) echo section ;;
	esac
}
. "$top/gluon-464xlat-clat/files/lib/gluon-464xlat/hosted.sh"
. "$script"
for a in "$@"; do "$a" 2>/dev/null; done
SH
	)
	cat "$tmp/calls"
}

for p in gluon-464xlat-clat:xlat-clat:br-client gluon-464xlat-plat:xlat-plat:br-wan gluon-l3roamd-xlat:l3roamd-xlat:br-client; do
	IFS=: read -r pkg role dev <<<"$p"
	s=$pkg/files/etc/init.d/$pkg
	rm -rf "$tmp/roles"
	out=$(run "$s" 0 start_service)
	case $out in *"open_instance"*) pass "$pkg: not hosted: procd instance of its own" ;; *) fail "$pkg not hosted: $out" ;; esac
	out=$(run "$s" 1 start_service)
	if [ "$out" = "bin host-ctl start $role run" ] && [ "$(cat "$tmp/roles/$role")" = run ]; then
		pass "$pkg: hosted start declares the role and starts it in the host, no instance"
	else
		fail "$pkg hosted start: $out"
	fi
	out=$(run "$s" 1 reload_service)
	[ -z "$out" ] && pass "$pkg: hosted reload, nothing changed: role left alone" || fail "$pkg reload unchanged: $out"
	echo $(($(cat "$tmp/net/$dev/ifindex") + 10)) >"$tmp/net/$dev/ifindex"
	out=$(run "$s" 1 reload_service)
	[ "$out" = "bin host-ctl restart $role" ] && pass "$pkg: hosted reload after $dev was recreated: role restarted" || fail "$pkg reload netdev: $out"
	echo "# changed" >>"$tmp/config"
	out=$(run "$s" 1 reload_service)
	[ "$out" = "bin host-ctl restart $role" ] && pass "$pkg: hosted reload after a config change: role restarted" || fail "$pkg reload config: $out"
	out=$(run "$s" 1 stop_service)
	if [ "$out" = "bin host-ctl stop $role" ] && [ ! -e "$tmp/roles/$role" ]; then
		pass "$pkg: hosted stop undeclares the role and stops it in the host"
	else
		fail "$pkg hosted stop: $out"
	fi
	out=$(HOSTCTL_RC=3 run "$s" 1 start_service)
	[ -e "$tmp/roles/$role" ] && pass "$pkg: host not up yet: role declared for the host's start" || fail "$pkg start without host: $out"
	out=$(run "$s" 0 reload_service)
	[ "$out" = "rc.common start" ] && pass "$pkg: not hosted: reload is rc.common's start" || fail "$pkg reload not hosted: $out"
done

h=gluon-464xlat-clat/files/etc/init.d/gluon-464xlat-host
out=$(run "$h" 0 start_service)
[ -z "$out" ] && pass "gluon-464xlat-host: no instance unless hosted" || fail "host not hosted: $out"
out=$(run "$h" 1 start_service)
case $out in
*"set_param command /usr/sbin/gluon-464xlat host --roles-dir /var/run/gluon-464xlat/roles"*"set_param respawn 3600 5 0"*)
	pass "gluon-464xlat-host: hosted: procd instance 'gluon-464xlat host --roles-dir', respawn" ;;
*) fail "host hosted: $out" ;;
esac
if command -v shellcheck >/dev/null; then
	shellcheck -s sh "$h" gluon-464xlat-clat/files/lib/gluon-464xlat/hosted.sh && pass "hosted scripts: shellcheck -s sh" || fail "shellcheck"
fi
echo "hosted mode: $fails failed"
[ "$fails" = 0 ]
