#!/bin/bash
# The packages' check_site.lua files against valid and invalid site configs,
# with Debian's lua5.1 and a harness that gives them Gluon's check-site
# helpers (files/scripts/checksite/harness.lua, cases in cases.lua).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if ! command -v lua5.1 >/dev/null; then
	echo "check-site: lua5.1 missing (files/scripts/deps.sh installs it)" >&2
	exit 1
fi
for f in gluon-*/check_site.lua; do
	luac5.1 -p "$f"
done
lua5.1 files/scripts/checksite/harness.lua files/scripts/checksite/cases.lua .

# With GLUON_DIR set to a Gluon checkout (e.g. v2023.2.6), the same cases also
# go through Gluon's own check-site.lua and must give the same results.
if [ -n "${GLUON_DIR:-}" ]; then
	gl=$GLUON_DIR/package/gluon-core/luasrc/lib/gluon/check-site.lua
	if [ -f "$gl" ]; then
		lua5.1 files/scripts/checksite/compare-gluon.lua "$PWD" "$gl" | tail -n 1
	else
		echo "check-site: $gl not found, comparison with Gluon skipped"
	fi
fi
