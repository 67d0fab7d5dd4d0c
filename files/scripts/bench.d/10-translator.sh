#!/bin/bash
# Translator benchmark: single-stream TCP (both directions) and 64-byte UDP
# packets per second through plain kernel IPv6 forwarding, TAYGA and
# `xlat-clat translate`, in one run (medians of BENCH_RUNS runs of BENCH_TIME
# seconds). BENCH_JSON=FILE also writes the medians as JSON.
# Program: src/dataplane/cmd/xlat-bench; topology: src/dataplane/xlatlab.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PATH:/usr/local/go/bin
args=(-runs "${BENCH_RUNS:-3}" -time "${BENCH_TIME:-5}" -src .)
if [ -x bin/xlat-clat ]; then
	args+=(-bin "$PWD/bin/xlat-clat")
fi
if [ -n "${BENCH_GRO:-}" ]; then
	args+=(-gro)
fi
cd src
go build -o "${TMPDIR:-/tmp}/xlat-bench.$$" ./dataplane/cmd/xlat-bench
trap 'rm -f "${TMPDIR:-/tmp}/xlat-bench.$$"' EXIT
"${TMPDIR:-/tmp}/xlat-bench.$$" "${args[@]}"
