#!/bin/bash
# The packages' real Gluon upgrade scripts (/lib/gluon/upgrade/3[456]0-*), run
# in name order as gluon-reconfigure runs them, against a copy of the fake
# Gluon root src/upgrade/testdata/full/root (XLAT_ROOT): the result must equal
# the golden files of the Go test, a second run must change nothing, and a bad
# site config must fail with a clear message and write nothing.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PATH:/usr/local/go/bin
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
pass() { echo "ok   $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

(cd src && go build -o "$tmp/bin/gluon-464xlat" ./cmd/gluon-464xlat)
for c in xlat-clat xlat-plat l3roamd-xlat; do ln -s gluon-464xlat "$tmp/bin/$c"; done
fixture=src/upgrade/testdata/full
scripts=$(find gluon-464xlat-clat gluon-464xlat-plat gluon-l3roamd-xlat -path '*/files/lib/gluon/upgrade/*' -type f |
	awk -F/ '{print $NF "\t" $0}' | sort | cut -f2)

run_all() { # root -> output of every script; fails on the first error
	local s
	for s in $scripts; do PATH=$tmp/bin:$PATH XLAT_ROOT=$1 "$s" || return 1; done
}

root=$tmp/root
cp -r "$fixture/root" "$root"
if out=$(run_all "$root" 2>&1); then pass "upgrade scripts run"; else fail "upgrade scripts: $out"; fi
same=1
while IFS= read -r f; do
	rel=${f#"$fixture/golden/"}
	cmp -s "$f" "$root/$rel" || { fail "$rel differs from the golden file"; same=0; }
done < <(find "$fixture/golden" -type f)
[ $same = 1 ] && pass "result equals the golden files"

snap() { (cd "$1" && find . -type f -exec sha256sum {} + | sort && find . -type f -printf '%p %T@\n' | sort); }
before=$(snap "$root")
out=$(run_all "$root" 2>&1)
if [ "$(snap "$root")" = "$before" ] && [ "$(grep -vc 'up to date' <<<"$out")" = 0 ]; then
	pass "second run changes nothing"
else
	fail "second run: $out"
fi

bad=$tmp/bad
cp -r "$fixture/root" "$bad"
printf '{"clat_range": "fddd::/64", "plat_range": "fddd:1337:2::/48"}\n' > "$bad/lib/gluon/domains/ffx.json"
before=$(snap "$bad")
if out=$(PATH=$tmp/bin:$PATH XLAT_ROOT=$bad gluon-464xlat-clat/files/lib/gluon/upgrade/350-gluon-464xlat-clat 2>&1); then
	fail "bad site accepted"
elif grep -q 'domains/ffx.json: clat_range: "fddd::/64" is not a /48' <<<"$out" && [ "$(snap "$bad")" = "$before" ]; then
	pass "bad site: clear error, nothing written"
else
	fail "bad site: $out"
fi

echo "upgrade-scripts: $passed passed, $failed failed"
[ "$failed" = 0 ]
