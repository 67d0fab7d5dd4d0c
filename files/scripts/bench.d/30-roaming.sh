#!/bin/bash
# Roaming at scale (issue 4): 10,000 ROAMs for distinct clients from 20 CLAT
# prefixes fed to a PLAT's l3roamd-xlat (a real process in a namespace):
# handling time (goal <= 1 s), ip6tables rule count with one client per
# CLAT prefix and with 10,000, the daemon's RSS; three runs, medians, with a
# baseline of "back home" ROAMs (same protocol path, no kernel work). Then
# the new node's side (nfstate): 10,000 roamed clients' ipset members, and
# a node's l3roamd-xlat idle and with 1,000 roamed-in clients. The bench
# answers the PLAT's VERIFYs as the serving node and plays the old nodes and
# the PLAT for the new node; it raises the PLAT's handover rate limits by
# flag (said in the table). Needs root; namespace prefixes r5b, r5n.
set -euo pipefail
cd "$(dirname "$0")/../../../src"
export PATH=$PATH:/usr/local/go/bin
if [ "$(id -u)" != 0 ]; then
	echo "roaming bench: needs root, skipped"
	exit 0
fi
echo "roaming: PLAT side"
go test -count=1 -tags bench -run '^TestBenchRoam(Scale|NewNode)$' -v ./roamd/ | grep '^|' || { echo "roaming bench failed"; exit 1; }
echo
echo "roaming: new node side"
go test -count=1 -tags bench -run '^TestBenchNFScale$' -v ./nfstate/ | sed -n 's/^ *|/|/p' || { echo "nfstate bench failed"; exit 1; }
