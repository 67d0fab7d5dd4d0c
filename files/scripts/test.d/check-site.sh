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
