#!/bin/bash
# Installs the Debian packages that the tests, the demo and the benchmarks use,
# so that a fresh machine needs nothing by hand. Runs apt only when something
# is missing.
set -euo pipefail
pkgs=(babeld tayga iperf3 ipset iptables nftables dnsmasq-base iproute2 iputils-ping
	netcat-openbsd socat tcpdump lua5.1 shellcheck xz-utils procps curl python3
	busybox ethtool)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing ${missing[*]}; run as root (sudo make ...)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v go >/dev/null; then
	echo "deps: go not found (expected in /usr/local/go/bin)" >&2
	exit 1
fi
