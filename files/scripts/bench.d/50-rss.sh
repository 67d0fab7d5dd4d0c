#!/bin/bash
# Footprint, memory side: the idle RSS of each daemon (xlat-clat, xlat-plat,
# l3roamd-xlat) in the lab's seed mesh, against the 10 MB goal per daemon.
# Uses the binaries of `make build` (bin/); needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if [ "$(id -u)" -ne 0 ]; then
	echo "rss: skipped (needs root: sudo make bench)"
	exit 0
fi
if [ ! -x bin/xlat-lab ] || [ ! -x bin/gluon-464xlat ]; then
	echo "rss: bin/xlat-lab or bin/gluon-464xlat missing (make build)" >&2
	exit 1
fi
echo "footprint: idle RSS per daemon in the lab"
bin/xlat-lab rss --bin bin --idle "${RSS_IDLE:-5s}"
