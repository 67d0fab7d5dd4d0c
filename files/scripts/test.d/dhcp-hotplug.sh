#!/bin/bash
# The DHCP hook of gluon-l3roamd-xlat, /etc/hotplug.d/dhcp/50-gluon-l3roamd-xlat,
# run by a POSIX sh (dash) as OpenWrt's hotplug-call runs it: sourced, with
# the environment OpenWrt 23.05's dnsmasq dhcp-script sends with its "dhcp"
# hotplug events (ACTION add|update|remove, MACADDR, IPADDR, HOSTNAME).
# l3roamd-xlat is a stand-in (L3ROAMD_XLAT) that logs its arguments and the
# lease-time variables, uci a function. Checked: add/update/remove become
# `l3roamd-xlat lease add|old|del MAC IP [HOST]` with the UCI socket, the
# lease end passed through or taken from dnsmasq's lease file; DHCPv6 leases, other actions and a node without the
# roaming section call nothing; a failing delivery is logged; the sourcing
# shell goes on after the hook (no exec, no exit). Also: no package sets
# dnsmasq's dhcpscript any more (the upgrade step's golden dhcp config).
set -euo pipefail
cd "$(dirname "$0")/../../.."
hook=gluon-l3roamd-xlat/files/etc/hotplug.d/dhcp/50-gluon-l3roamd-xlat
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

[ -f "$hook" ] || { echo "FAIL $hook missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/l3roamd-xlat" <<'SH'
#!/bin/sh
echo "CALL $* expires=${DNSMASQ_LEASE_EXPIRES:-} remaining=${DNSMASQ_TIME_REMAINING:-}" >>"$CALLS"
[ "$4" != 10.80.0.99 ] && [ "$6" != 10.80.0.99 ]
SH
chmod +x "$tmp/l3roamd-xlat"

# event SECTION(0|1) VAR=VALUE...: sources the hook like hotplug-call; prints
# the stand-in's calls, logger lines and "after" if the shell went on
event() {
	local present=$1
	shift
	: >"$tmp/calls"
	# shellcheck disable=SC2016 # the inner script expands its own variables
	env -i PATH=/usr/bin:/bin CALLS="$tmp/calls" LEASES="$tmp/dhcp.leases" L3ROAMD_XLAT="$tmp/l3roamd-xlat" \
		L3ROAMD_XLAT_MEMO="$tmp/memo" PRESENT="$present" "$@" \
		sh -c '
uci() {
	[ "$PRESENT" = 1 ] || return 1
	case "$*" in
	"-q get gluon-464xlat.roamd") echo roamd ;;
	"-q get gluon-464xlat.roamd.socket") echo /var/run/l3roamd-xlat.sock ;;
	"-q get dhcp.@dnsmasq[0].leasefile") echo "$LEASES" ;;
	*) return 1 ;;
	esac
}
logger() { echo "LOG $*" >>"$CALLS"; }
. "$1"
echo after >>"$CALLS"' sh "$top/$hook"
	cat "$tmp/calls"
}
top=$PWD
mac=02:00:00:00:00:01
printf '%s\n' "1767225000 02:00:00:00:00:07 10.80.0.7 phone 01:02:00:00:00:00:07" >"$tmp/dhcp.leases"
sock="--socket /var/run/l3roamd-xlat.sock"
check() { # WHAT WANT GOT
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$3', want '$2'"; fi
}
check "add -> lease add, hostname passed" \
	"CALL lease $sock add $mac 10.80.0.5 laptop expires= remaining=
after" "$(event 1 ACTION=add MACADDR=$mac IPADDR=10.80.0.5 HOSTNAME=laptop)"
check "update -> lease old, lease end passed through" \
	"CALL lease $sock old $mac 10.80.0.5 expires=1767225600 remaining=
after" "$(event 1 ACTION=update MACADDR=$mac IPADDR=10.80.0.5 DNSMASQ_LEASE_EXPIRES=1767225600)"
check "update repeating the last delivered lease: not delivered" \
	"after" "$(event 1 ACTION=update MACADDR=$mac IPADDR=10.80.0.5 DNSMASQ_LEASE_EXPIRES=1767225600)"
check "update with a later lease end: delivered" \
	"CALL lease $sock old $mac 10.80.0.5 expires=1767229200 remaining=
after" "$(event 1 ACTION=update MACADDR=$mac IPADDR=10.80.0.5 DNSMASQ_LEASE_EXPIRES=1767229200)"
check "update without a lease end: delivered" \
	"CALL lease $sock old $mac 10.80.0.5 expires= remaining=600
after" "$(event 1 ACTION=update MACADDR=$mac IPADDR=10.80.0.5 DNSMASQ_TIME_REMAINING=600)"
check "lease end from dnsmasq's lease file when the event has none" \
	"CALL lease $sock add 02:00:00:00:00:07 10.80.0.7 phone expires=1767225000 remaining=
after" "$(event 1 ACTION=add MACADDR=02:00:00:00:00:07 IPADDR=10.80.0.7 HOSTNAME=phone)"
check "remove -> lease del" \
	"CALL lease $sock del $mac 10.80.0.5 expires= remaining=
after" "$(event 1 ACTION=remove MACADDR=$mac IPADDR=10.80.0.5 HOSTNAME=)"
check "DHCPv6 lease ignored" "after" "$(event 1 ACTION=add MACADDR=00:01:00:01:aa:bb IPADDR=fd00::5)"
check "other action ignored" "after" "$(event 1 ACTION=tftp TFTP_PATH=/x)"
check "node without section gluon-464xlat.roamd: nothing" "after" "$(event 0 ACTION=add MACADDR=$mac IPADDR=10.80.0.5)"
check "update after the lease was deleted: delivered" \
	"CALL lease $sock old $mac 10.80.0.5 expires=1767229200 remaining=
after" "$(event 1 ACTION=update MACADDR=$mac IPADDR=10.80.0.5 DNSMASQ_LEASE_EXPIRES=1767229200)"
check "failed delivery logged, shell goes on" \
	"CALL lease $sock add $mac 10.80.0.99 expires= remaining=
LOG -t l3roamd-xlat lease $sock add $mac 10.80.0.99 not delivered
after" "$(event 1 ACTION=add MACADDR=$mac IPADDR=10.80.0.99)"
if shellcheck -s sh "$hook"; then pass "shellcheck -s sh $hook"; else fail "shellcheck $hook"; fi

if grep -rq dhcpscript src/upgrade/testdata/*/golden; then
	fail "an upgrade step still sets dnsmasq's dhcpscript (src/upgrade/testdata/*/golden)"
else
	pass "no upgrade step sets dnsmasq's dhcpscript (golden configs)"
fi
echo "dhcp hotplug: $fails failed"
[ "$fails" -eq 0 ]
