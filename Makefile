# Host entry points of the gluon-464xlat feed. The OpenWrt/Gluon build does not
# use this file: it builds the packages through their own Makefiles.
#
#   sudo make demo    simulated mesh: CLAT/PLAT, failover, roaming (main job)
#   sudo make test    unit tests, then the end-to-end tests in the lab
#   sudo make bench   translator, full path, roaming and footprint benchmarks
#   make sizes        cross-compiled binary sizes (SIZES_JSON=FILE for JSON)
#   make stage        per-package install trees under stage/ (STAGE_ARCH=...)

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
BIN := $(CURDIR)/bin
GOFLAGS_BUILD := -trimpath -ldflags '-s -w'

.PHONY: all build deps test demo bench sizes stage clean

all: build

deps:
	files/scripts/deps.sh

build:
	mkdir -p $(BIN)
	cd src && CGO_ENABLED=0 go build $(GOFLAGS_BUILD) -o $(BIN)/gluon-464xlat ./cmd/gluon-464xlat
	cd src && CGO_ENABLED=0 go build -trimpath -o $(BIN)/xlat-lab ./cmd/xlat-lab
	for c in xlat-clat xlat-plat l3roamd-xlat; do ln -sf gluon-464xlat $(BIN)/$$c; done

test: deps build
	files/scripts/test.sh

demo: deps build
	$(BIN)/xlat-lab demo

bench: deps build
	files/scripts/bench.sh

sizes:
	files/scripts/sizes.sh

stage:
	files/scripts/stage.sh

clean:
	rm -rf $(BIN) stage
