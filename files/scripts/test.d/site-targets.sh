#!/bin/bash
# Target-aware selection: files/site-example/image-customization.lua,
# evaluated for every target of Gluon v2023.2 (files/facts/gluon-v2023.2-targets.txt,
# with each target's OpenWrt architecture) the way Gluon's image
# customization runs it (the file's environment holds only the functions
# Gluon's docs list; target(board, subtarget) compares with the target's
# BOARD and SUBTARGET), for a standard and a tiny device. It must select the
# three Gluon packages on every target whose architecture is in the packages
# feed's GO_ARCH_DEPENDS and on none other. The README, the site docs and
# the site example's modules file must point to that selection.
set -euo pipefail
cd "$(dirname "$0")/../../.."
facts=files/facts/gluon-v2023.2-targets.txt
ic=files/site-example/image-customization.lua
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
pass() { echo "ok   $*"; }

[ -f "$ic" ] || { echo "FAIL $ic missing"; exit 1; }
goarch=" $(awk '$1 == "go_arch_depends" { $1 = ""; print }' "$facts") "
[ -n "${goarch// /}" ] || fail "no go_arch_depends line in $facts"

# select FILE BOARD SUBTARGET CLASS: the packages FILE selects, sorted, one line
select_pkgs() {
	lua5.1 - "$@" <<'LUA'
local file, board, subtarget, class = arg[1], arg[2], arg[3], arg[4]
local chunk = assert(loadfile(file))
local selected = {}
local function add(list)
	for _, p in ipairs(list) do
		if p:sub(1, 1) == '-' then selected[p:sub(2)] = nil else selected[p] = true end
	end
end
local env = {
	features = function() end,
	packages = add,
	broken = function() end,
	disable = function() end,
	disable_factory = function() end,
	device = function() return false end,
	device_class = function(c) return c == class end,
	target = function(t, s)
		assert(type(t) == 'string', 'target(): board name expected')
		return t == board and (s == nil or s == subtarget)
	end,
}
setfenv(chunk, env)
chunk()
local out = {}
for p in pairs(selected) do out[#out + 1] = p end
table.sort(out)
print(table.concat(out, ' '))
LUA
}

want="gluon-464xlat-clat gluon-464xlat-plat gluon-l3roamd-xlat"
n=0 with=0 without=0
while read -r kind name arch _; do
	[ "$kind" = target ] || continue
	n=$((n + 1))
	board=${name%%-*} sub=${name#*-}
	for class in standard tiny; do
		if ! got=$(select_pkgs "$ic" "$board" "$sub" "$class" 2>&1); then
			fail "$ic does not evaluate for $name ($class): $got"
			continue
		fi
		got=$(tr ' ' '\n' <<<"$got" | grep '^gluon-464xlat-\|^gluon-l3roamd-xlat$' | tr '\n' ' ' | sed 's/ $//' || true)
		if [[ $goarch == *" $arch "* ]]; then
			[ "$got" = "$want" ] || fail "$name ($arch, Go builds, $class device): selects '$got', want '$want'"
		else
			[ -z "$got" ] || fail "$name ($arch, no Go): selects '$got' (Gluon: unable to enable package)"
		fi
	done
	if [[ $goarch == *" $arch "* ]]; then with=$((with + 1)); else without=$((without + 1)); fi
done <"$facts"
[ "$n" -gt 0 ] || fail "no targets in $facts"
[ "$fails" -gt 0 ] || pass "$ic: packages on all $with targets with Go, on none of the $without without ($n targets of Gluon v2023.2)"

for f in README.md files/docs/site.md files/site-example/modules; do
	if grep -q 'image-customization.lua' "$f" && grep -q 'mpc85xx' "$f"; then
		pass "$f points to the target-aware selection"
	else
		fail "$f does not say where the packages may be selected (image-customization.lua, mpc85xx)"
	fi
done
echo "site targets: $fails failed"
[ "$fails" -eq 0 ]
