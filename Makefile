# Berth — two commands:
#   make run    install what is missing, build, start `berth server` (embedded defaults)
#   make test   install what is missing, build, run every test
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
DATA_DIR ?= /var/lib/berth
PORT ?= 6443
# Lets ccache reuse objects between clones of the repository in other folders.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps build run test unit e2e bench fuzz test-asan format clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/berth server --data-dir $(DATA_DIR) --port $(PORT)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j 1

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

e2e: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L e2e

bench: build
	@bash scripts/install-deps.sh bench
	bash bench/run.sh $(BUILD_DIR)

# libFuzzer targets, each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 30
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++ -DBERTH_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -L unit

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
