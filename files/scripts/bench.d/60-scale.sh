#!/bin/bash
# A 50-node mesh (issue 9 item 5, files/docs/scale.md): a seeded random
# connected topology with 3 PLATs and 200 clients, 50 of which roam (away,
# away, back home, with a TCP stream and a UDP flow each): babel
# convergence, every client's reachability, roam stalls, the failure of the
# PLAT most nodes use (failure -> every affected CLAT switched, then every
# client through another PLAT), routes, CPU and RSS per node.
# SCALE_ARGS passes more flags (e.g. "--seed 2 --wave 1"); BENCH_JSON=FILE
# gets the figures as its "scale" object. A few minutes.
# Uses the binaries of `make build` (bin/); needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "scale: skipped (needs root: sudo make bench)"
	exit 0
fi
if [ ! -x bin/xlat-lab ] || [ ! -x bin/gluon-464xlat ]; then
	echo "scale: bin/xlat-lab or bin/gluon-464xlat missing (make build)" >&2
	exit 1
fi
echo "scale: 50 nodes, 3 PLATs, 200 clients (50 roam)"
rc=0
# shellcheck disable=SC2086
bin/xlat-lab scale --bin bin -v=false ${SCALE_ARGS:-} || rc=$?
if [ "$rc" -eq 3 ]; then
	echo "scale: the lab ran, goals missed (above); the other benchmarks go on"
	exit 0
fi
exit "$rc"
