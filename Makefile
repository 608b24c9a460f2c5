# swarm — thin wrapper over CMake. Targets:
#   make          release build: build/swarm, build/swarm-node
#   make test     installs what is missing (scripts/setup), builds with ASan+UBSan (clang) and
#                 runs the whole suite: unit, interop, fuzz smoke, end-to-end; then says what
#                 was skipped (scripts/test-summary; with CI=true a skip fails the run)
#   make demo     the main job on a local simulated fleet
#   make fuzz     each libFuzzer target for FUZZ_TIME seconds (default 60)
#   make firmware Cortex-M3 firmware for QEMU mps2-an385: build/fw/swarm-node-mps2.elf and .bin
#   make size     Cortex-M3 footprint: core, core+serial+RPC (small-MCU profile), full node
#   make bench    benchmarks with side-by-side peers (results: bench/RESULTS.md)
#   make install  PREFIX=/usr/local by default
MAKEFLAGS += --no-print-directory
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX   ?= /usr/local
FUZZ_TIME ?= 60

.PHONY: all build test demo fuzz size firmware bench install clean setup
all: build

build:
	@# mosquitto's source, for the static swarm-node's own libmosquitto (best effort: without it
	@# the node links its libraries dynamically; docs/DESIGN.md, MQTT)
	@scripts/fetch-sources mosquitto >/dev/null 2>&1 || echo "make: no mosquitto source (scripts/fetch-sources mosquitto): swarm-node will link LIBS"
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

setup:
	@scripts/setup

test: setup
	@CC=clang-14 cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSW_SANITIZE=ON -DSW_FUZZ=ON >/dev/null
	@cmake --build build/asan -j$(JOBS)
	@rm -rf build/asan/test-skips
	@cd build/asan && ctest --output-on-failure -j$(JOBS) --timeout 600; rc=$$?; \
	  cd ../.. && scripts/test-summary build/asan; exit $$rc

demo: setup build
	@scripts/demo

fuzz: setup
	@CC=clang-14 cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DSW_SANITIZE=ON -DSW_FUZZ=ON >/dev/null
	@cmake --build build/asan -j$(JOBS)
	@scripts/fuzz build/asan $(FUZZ_TIME)

size: setup
	@scripts/size

firmware: setup
	@scripts/firmware

bench: setup build
	@scripts/bench

install: build
	@cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build
