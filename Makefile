# The README's commands. Each first installs missing Debian packages.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
WERROR := $(if $(CI),ON,OFF)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test bench sanitize valgrind format format-check \
        install clean fuzz check-layers

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DMPROC_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/examples/producer_consumer

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/run $(BUILD)

sanitize: deps
	@cmake -S . -B $(ASAN_BUILD) -DMPROC_SANITIZE=ON -DMPROC_BUILD_BENCH=OFF \
	    -DMPROC_WERROR=$(WERROR) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

valgrind: build
	scripts/valgrind-suite $(BUILD)

# Only src/sys/ calls the kernel; no layer includes one above it.
check-layers:
	scripts/check-layers

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' '*.cpp')

format:
	clang-format -i $(FORMAT_FILES)

format-check: deps
	clang-format --dry-run -Werror $(FORMAT_FILES)

# libFuzzer targets (fuzz/fuzz_*.c), built with clang against the library
# sources, each run FUZZ_TIME seconds on its seeds and a growing corpus.
FUZZ_BUILD ?= build-fuzz
FUZZ_TIME ?= 30
FUZZ_CC ?= clang
FUZZ_TARGETS = $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -D_GNU_SOURCE -DMPROC_BUILDING \
    -Iinclude -Isrc

fuzz: deps
	@mkdir -p $(FUZZ_BUILD)
	@for t in $(FUZZ_TARGETS); do \
	    $(FUZZ_CC) $(FUZZ_FLAGS) $(wildcard src/*.c src/*/*.c) fuzz/$$t.c \
	        -lcrypto -lpthread -lm -o $(FUZZ_BUILD)/$$t || exit 1; \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	    echo "fuzzing $$t for $(FUZZ_TIME) s"; \
	    $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_TIME) -max_len=4096 \
	        -timeout=10 -print_final_stats=1 $(FUZZ_BUILD)/corpus-$$t \
	        fuzz/seeds/$$t || exit 1; \
	done

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
