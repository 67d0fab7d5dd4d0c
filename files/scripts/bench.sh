#!/bin/bash
# sudo make bench: every benchmark in bench.d/, each printing its own table.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PATH:/usr/local/go/bin
for b in files/scripts/bench.d/*.sh; do
	[ -e "$b" ] || continue
	echo "== $b"
	bash "$b"
done
