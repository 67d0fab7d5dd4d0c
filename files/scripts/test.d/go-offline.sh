#!/bin/bash
# The Go build the OpenWrt packages feed will do for gluon-464xlat-bin: the
# command its Makefile names (GO_PKG_BUILD_PKG), src/go.mod's go line and
# every module's go line at most the feed's Go (go_version in
# files/facts/gluon-v2023.2-packages.txt: 1.21.13, the packages feed Gluon
# v2023.2.x pins; builds with GOTOOLCHAIN=local), no toolchain line, and,
# once src/vendor/ is checked in, an offline build from it (GOPROXY=off,
# -mod=vendor) with vendor/modules.txt matching go.mod.
set -euo pipefail
cd "$(dirname "$0")/../../../src"
export PATH=$PATH:/usr/local/go/bin
feed_release=$(awk '$1 == "go_version" { print $2 }' ../files/facts/gluon-v2023.2-packages.txt)
feed_go=${FEED_GO:-${feed_release%.*}}
# the command gluon-464xlat-bin/Makefile builds, relative to the module
module=$(sed -n 's/^module //p' go.mod)
# shellcheck disable=SC2016 # a make variable, literally
cmd=$(sed -n 's/^GO_PKG_BUILD_PKG:=\$(GO_PKG)\//.\//p' ../gluon-464xlat-bin/Makefile)
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

# vle A B: version A <= version B (major.minor[.patch])
vle() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]; }

mod_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
if [ -n "$mod_go" ] && vle "$mod_go" "$feed_go"; then pass "go.mod: go $mod_go <= $feed_go"; else fail "go.mod: go line '$mod_go' above the feed's Go $feed_go"; fi
if grep -q '^toolchain ' go.mod; then fail "go.mod has a toolchain line (GOTOOLCHAIN=local ignores it; drop it)"; else pass "go.mod: no toolchain line"; fi

# every required module's own go line: from vendor/modules.txt once it is
# there ("# path version" then "## explicit; go 1.x"), else the module cache
modgo() {
	if [ -f vendor/modules.txt ]; then
		awk '/^# [^ ]+ v/ { p = $2 } /^## / && p != "" { for (i = 1; i <= NF; i++) if ($i == "go") { print p, $(i + 1); p = "" } }' vendor/modules.txt
	else
		GOFLAGS=-mod=mod go list -m -f '{{if not .Main}}{{.Path}} {{.GoVersion}}{{end}}' all
	fi
}
n=0
while read -r path gover; do
	[ -n "$gover" ] || continue
	n=$((n + 1))
	if vle "$gover" "$feed_go"; then pass "$path: go $gover"; else fail "$path: go $gover needs a newer Go than $feed_go"; fi
done < <(modgo)
[ "$n" -gt 0 ] || fail "could not list the modules' go lines"

if [ -d vendor ]; then
	if [ -n "$cmd" ] && GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 go build -o /dev/null "$cmd"; then
		pass "offline build of gluon-464xlat-bin's $module/${cmd#./} from vendor/ (GOPROXY=off, -mod=vendor)"
	else
		fail "build from vendor/ failed: run 'cd src && go mod tidy && go mod vendor'"
	fi
else
	echo "note: src/vendor/ not checked in yet; offline build not tested"
fi
# The same build with the feed's own Go release (the module proxy serves the
# toolchain): catches standard-library API newer than the go line allows,
# which the host's newer go command would accept.
feed_toolchain=${FEED_TOOLCHAIN:-go$feed_release}
if GOTOOLCHAIN=$feed_toolchain go version >/dev/null 2>&1; then
	if GOTOOLCHAIN=$feed_toolchain CGO_ENABLED=0 go build -o /dev/null ./... ; then
		pass "build with $feed_toolchain"
	else
		fail "build with $feed_toolchain failed"
	fi
else
	echo "note: $feed_toolchain not obtainable here; build with the feed's Go not tested"
fi
echo "go offline: $fails failed"
[ "$fails" -eq 0 ]
