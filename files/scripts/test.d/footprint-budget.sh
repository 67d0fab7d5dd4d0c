#!/bin/bash
# The flash budget as a test: the binary for mips_24kc plus the three Gluon
# packages' files must stay within 1.5 MiB xz (files/scripts/sizes.sh; the
# full table for every architecture is `make sizes` / `make bench`).
set -euo pipefail
cd "$(dirname "$0")/../../.."
SIZES_ARCHS=mips_24kc SIZES_STRICT=1 files/scripts/sizes.sh
