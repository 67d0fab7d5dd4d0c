#!/bin/bash
# Translator benchmark: single-stream TCP (both directions) and 64-byte UDP
# packets per second (the benchmark's own batched generator and sink) through
# plain kernel IPv6 forwarding, TAYGA and `xlat-clat translate`, and
# `--queues 2` against one queue with 8 flows, in one run (medians and
# per-round ratios of BENCH_RUNS runs of BENCH_TIME seconds; CPU per packet;
# load average). BENCH_JSON=FILE also writes the medians as JSON.
# Program: src/dataplane/cmd/xlat-bench; topology: src/dataplane/xlatlab.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH=$PATH:/usr/local/go/bin
args=(-runs "${BENCH_RUNS:-5}" -time "${BENCH_TIME:-5}" -src .)
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
