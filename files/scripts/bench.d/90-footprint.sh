#!/bin/bash
# Footprint, flash side: the cross-compiled binary and the packages' files per
# architecture, stripped and xz-compressed (files/scripts/sizes.sh), against
# the 1.5 MiB (xz) budget on mips_24kc. The daemons' idle RSS is measured in
# the lab by its own benchmark.
#   FOOTPRINT_JSON=FILE  keep the figures as JSON (see sizes.sh)
set -euo pipefail
cd "$(dirname "$0")/../../.."
echo "footprint: flash (make sizes)"
SIZES_JSON=${FOOTPRINT_JSON:-} files/scripts/sizes.sh
