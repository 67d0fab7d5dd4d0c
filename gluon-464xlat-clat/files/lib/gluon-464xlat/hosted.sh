# shellcheck shell=sh
# Hosted mode of the role init scripts (gluon-464xlat.procd.hosted='1', see
# files/docs/memory.md): the role runs inside the node's one gluon-464xlat
# host process (/etc/init.d/gluon-464xlat-host) instead of a process of its
# own. A role is declared by a file in XLAT_ROLES (the host starts the
# declared roles whenever it starts, also after procd respawned it) and
# started, stopped or restarted in the running host over its socket.

# (overridable for files/scripts/test.d/hosted-mode.sh)
XLAT_ROLES=${XLAT_ROLES:-/var/run/gluon-464xlat/roles}
XLAT_BIN=${XLAT_BIN:-/usr/sbin/gluon-464xlat}
XLAT_HOST_INIT=${XLAT_HOST_INIT:-/etc/init.d/gluon-464xlat-host}
XLAT_CONFIG_FILE=${XLAT_CONFIG_FILE:-/etc/config/gluon-464xlat}
XLAT_SYS_NET=${XLAT_SYS_NET:-/sys/class/net}

# xlat_hosted: true if this node runs its roles hosted.
xlat_hosted() {
	[ "$(uci -q get gluon-464xlat.procd.hosted)" = 1 ] && [ -x "$XLAT_HOST_INIT" ]
}

# xlat_hosted_stamp NETDEV: what a change of restarts the role, as procd
# restarts an instance: the config file and the netdev's ifindex.
xlat_hosted_stamp() {
	echo "$(md5sum "$XLAT_CONFIG_FILE" 2>/dev/null | cut -d' ' -f1) $(cat "$XLAT_SYS_NET/$1/ifindex" 2>/dev/null)"
}

# xlat_hosted_start ROLE NETDEV: declare the role and start it in the host;
# a host that is not up yet (host-ctl exit 3) starts it from XLAT_ROLES.
xlat_hosted_start() {
	mkdir -p "$XLAT_ROLES"
	echo run >"$XLAT_ROLES/$1"
	xlat_hosted_stamp "$2" >"$XLAT_ROLES/.$1.stamp"
	"$XLAT_BIN" host-ctl start "$1" run >/dev/null
	[ $? -ne 1 ]
}

# xlat_hosted_stop ROLE: undeclare the role and stop it in the host.
xlat_hosted_stop() {
	[ -e "$XLAT_ROLES/$1" ] || return 0
	rm -f "$XLAT_ROLES/$1" "$XLAT_ROLES/.$1.stamp"
	"$XLAT_BIN" host-ctl stop "$1" >/dev/null 2>&1 || :
}

# xlat_hosted_reload ROLE NETDEV: restart the role only if its config or
# its netdev changed (start it if it was not declared).
xlat_hosted_reload() {
	[ -e "$XLAT_ROLES/$1" ] || {
		xlat_hosted_start "$1" "$2"
		return
	}
	stamp=$(xlat_hosted_stamp "$2")
	[ "$stamp" = "$(cat "$XLAT_ROLES/.$1.stamp" 2>/dev/null)" ] && return 0
	echo "$stamp" >"$XLAT_ROLES/.$1.stamp"
	"$XLAT_BIN" host-ctl restart "$1" >/dev/null
}
