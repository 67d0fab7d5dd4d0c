#!/bin/bash
# Footprint, memory side: the idle memory of each daemon (xlat-clat,
# xlat-plat, l3roamd-xlat) in the lab's seed mesh, RSS and PSS split into
# anonymous and file-backed pages, Go heap and stacks, and the sum per node
# against the goal (<= 12 MiB RSS on a node that runs all three roles); once
# as separate processes, once hosted by one `gluon-464xlat host` per node
# (files/docs/memory.md). Medians of RSS_RUNS (3) lab starts each.
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
echo "footprint: idle memory per daemon in the lab"
bin/xlat-lab rss --bin bin --idle "${RSS_IDLE:-5s}" --runs "${RSS_RUNS:-3}"
echo
bin/xlat-lab rss --bin bin --idle "${RSS_IDLE:-5s}" --runs "${RSS_RUNS:-3}" --hosted
