#!/bin/bash
# The procd init scripts, run without OpenWrt: each script is sourced by a
# POSIX sh (dash) the way rc.common sources it, with procd_* and uci replaced
# by functions that log their arguments; the log must show the daemon
# started as "<command> run" with respawn, stdout/stderr to syslog, the config
# file watched and a reload trigger on it, the daemon's network device as
# procd netdev with a reload on netifd interface events (Gluon's
# "interface.*" raw trigger), the respawn values 3600 5 0 unless
# gluon-464xlat.procd overrides them, START after babeld (45), and no
# instance when the node has no section for that daemon.
set -euo pipefail
cd "$(dirname "$0")/../../.."
top=$PWD
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# gluon-l3roamd-xlat's start restarts /etc/init.d/dnsmasq when it has to
# create dnsmasq's hosts file: never let it touch this machine's dnsmasq
precreated=0
if [ -e /etc/init.d/dnsmasq ]; then
	: >"$tmp/dhcp_hostsfile"
	precreated=1
fi

# run_script SCRIPT SECTION_PRESENT(0|1|2): prints the procd calls. uci
# answers the section's type for "<config>.<section>", a path under $tmp for
# options naming files (e.g. roamd.dhcp_hostsfile), with 2 also the
# operator's overrides (procd.respawn_* 60 10 3, devices "ovr0"), nothing
# else; runs in $tmp.
run_script() {
	(cd "$tmp" && sh -s "$top/$1" "$2" "$tmp" <<'SH'
script=$1 present=$2 tmp=$3
procd_open_instance() { echo "open_instance"; }
procd_set_param() { echo "set_param $*"; }
procd_close_instance() { echo "close_instance"; }
procd_add_reload_trigger() { echo "reload_trigger $*"; }
procd_open_trigger() { echo "open_trigger"; }
procd_add_raw_trigger() { echo "raw_trigger $*"; }
procd_close_trigger() { echo "close_trigger"; }
uci() {
	[ "$present" != 0 ] || return 1
	case "$present $*" in
	"2 "*.procd.respawn_threshold) echo 60 ;;
	"2 "*.procd.respawn_timeout) echo 10 ;;
	"2 "*.procd.respawn_retry) echo 3 ;;
	"2 "*.*_device | "2 "*.*_bridge) echo ovr0 ;;
	esac
	case "$*" in
	*.procd.* | *.*_device | *.*_bridge) [ "$present" = 1 ] || return 0; return 1 ;;
	*.*.*file*) echo "$tmp/${*##*.}" ;;
	*.*.*) return 1 ;;
	*) echo section ;;
	esac
}
. "$script"
echo "START=$START STOP=$STOP USE_PROCD=$USE_PROCD"
start_service 2>/dev/null
service_triggers
SH
	)
}

declare -A starts
for p in gluon-464xlat-clat:xlat-clat:clat:br-client gluon-464xlat-plat:xlat-plat:plat:br-wan gluon-l3roamd-xlat:l3roamd-xlat:roamd:br-client; do
	IFS=: read -r pkg cmd sec dev <<<"$p"
	s=$pkg/files/etc/init.d/$pkg
	log=$(run_script "$s" 1)
	want=(
		"open_instance"
		"set_param command /usr/sbin/$cmd run"
		"set_param respawn 3600 5 0"
		"set_param netdev $dev"
		"set_param stdout 1"
		"set_param stderr 1"
		"set_param file /etc/config/gluon-464xlat"
		"close_instance"
		"reload_trigger gluon-464xlat"
		"open_trigger"
		"raw_trigger interface.* 0 /etc/init.d/$pkg reload"
		"close_trigger"
	)
	ok=1
	for w in "${want[@]}"; do
		grep -qxF "$w" <<<"$log" || { fail "$pkg: init script does not call: $w"; ok=0; }
	done
	start=$(sed -n 's/^START=\([0-9]*\) .*/\1/p' <<<"$log")
	grep -q 'USE_PROCD=1' <<<"$log" || { fail "$pkg: USE_PROCD not 1"; ok=0; }
	if [ -z "$start" ] || [ "$start" -le 45 ]; then fail "$pkg: START=$start, must come after babeld (45)"; ok=0; fi
	starts[$pkg]=$start
	[ $ok = 0 ] || pass "$pkg: procd instance '$cmd run' (START=$start), respawn 3600 5 0, netdev $dev, syslog, config watched, reload on config and interface events"
	log=$(run_script "$s" 2)
	if grep -qxF "set_param respawn 60 10 3" <<<"$log" && grep -qxF "set_param netdev ovr0" <<<"$log"; then
		pass "$pkg: respawn and netdev follow gluon-464xlat.procd.respawn_* and the section's device option"
	else
		fail "$pkg: overrides not used: $(grep -E 'respawn|netdev' <<<"$log" | tr '\n' ' ')"
	fi
	log=$(run_script "$s" 0)
	if grep -q open_instance <<<"$log"; then fail "$pkg: instance started without its UCI section"; else pass "$pkg: no instance without section gluon-464xlat.$sec"; fi
	if shellcheck -s sh "$s"; then pass "$pkg: shellcheck -s sh"; else fail "$pkg: shellcheck"; fi
done
# l3roamd-xlat's init makes dnsmasq's hosts file (option dhcp_hostsfile)
if [ $precreated = 1 ]; then
	echo "note: /etc/init.d/dnsmasq exists here; hosts file creation not tested"
elif [ -e "$tmp/dhcp_hostsfile" ]; then pass "gluon-l3roamd-xlat: creates dnsmasq's hosts file"; else fail "gluon-l3roamd-xlat: hosts file not created"; fi
stray=$(find "$tmp" -mindepth 1 ! -name dhcp_hostsfile)
if [ -z "$stray" ]; then pass "init scripts wrote nothing else"; else fail "init scripts wrote: $stray"; fi
# the CLAT tells l3roamd-xlat its PLAT choice over l3roamd-xlat's socket
if [ "${starts[gluon-l3roamd-xlat]}" -lt "${starts[gluon-464xlat-clat]}" ]; then
	pass "l3roamd-xlat (START=${starts[gluon-l3roamd-xlat]}) starts before xlat-clat (START=${starts[gluon-464xlat-clat]})"
else
	fail "l3roamd-xlat must start before xlat-clat"
fi
echo "init scripts: $fails failed"
[ "$fails" -eq 0 ]
