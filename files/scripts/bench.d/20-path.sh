#!/bin/bash
# Full path (issue 9): a client's IPv4 to the internet host through D's CLAT,
# the babel mesh and C's PLAT (NAT66, translator, masquerade), against native
# IPv4 routing over the same hops and TAYGA as CLAT and PLAT translator, in
# one lab run: single TCP both directions, 8 TCP streams, 64-byte UDP packets
# per second, ping median and p99 (medians of BENCH_RUNS runs of BENCH_TIME
# seconds). BENCH_JSON=FILE gets the figures as its "path" object.
# Uses the binaries of `make build` (bin/); needs root, iperf3 and tayga.
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "path: skipped (needs root: sudo make bench)"
	exit 0
fi
if [ ! -x bin/xlat-lab ] || [ ! -x bin/gluon-464xlat ]; then
	echo "path: bin/xlat-lab or bin/gluon-464xlat missing (make build)" >&2
	exit 1
fi
echo "full path: client IPv4 via CLAT + PLAT vs native IPv4 vs TAYGA"
bin/xlat-lab path-bench --bin bin --runs "${BENCH_RUNS:-3}" --time "${BENCH_TIME:-5}"
