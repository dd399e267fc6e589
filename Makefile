# The README's commands. Each first installs the Debian packages it needs
# and lacks (scripts/install-deps, per kind of build).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
WERROR := $(if $(CI),ON,OFF)
CMAKE_FLAGS ?=
PREFIX ?= /usr/local

# No "Entering directory" lines from the make that CMake runs.
MAKEFLAGS += --no-print-directory

.PHONY: all deps lib build demo test bench sanitize valgrind format \
        format-check install install-check clean fuzz check-layers

all: build

deps:
	@scripts/install-deps test bench

# Configures $(BUILD) with the options given ($(1)); a folder not yet
# configured also gets $(2), the options of the smallest build that serves.
# A folder once configured for the full build stays so: lib and demo then
# build their targets in it.
configure = @cmake -S . -B $(BUILD) -DMPROC_WERROR=$(WERROR) \
    $(if $(wildcard $(BUILD)/CMakeCache.txt),,$(2)) $(1) $(CMAKE_FLAGS) \
    >/dev/null
LEAN = -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_BENCH=OFF
FULL = -DMPROC_BUILD_TESTS=ON -DMPROC_BUILD_EXAMPLES=ON -DMPROC_BUILD_BENCH=ON
LIB_TARGETS = --target mproc mproc_static mproc_man

# The library alone (shared and static, headers, man pages), with only its
# own build dependencies.
lib:
	@scripts/install-deps lib
	$(call configure,,$(LEAN) -DMPROC_BUILD_EXAMPLES=OFF)
	@cmake --build $(BUILD) -j $(JOBS) $(LIB_TARGETS)

build:
	@scripts/install-deps test bench
	$(call configure,$(FULL))
	@cmake --build $(BUILD) -j $(JOBS)

# The library and the example, built quietly (the log is shown if it fails).
demo:
	@scripts/install-deps lib
	$(call configure,-DMPROC_BUILD_EXAMPLES=ON,$(LEAN))
	@echo "building mproc and examples/producer_consumer ..."
	@cmake --build $(BUILD) -j $(JOBS) --target producer_consumer \
	    >$(BUILD)/demo-build.log 2>&1 || { cat $(BUILD)/demo-build.log; exit 1; }
	$(if $(filter /%,$(BUILD)),,./)$(BUILD)/examples/producer_consumer

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	bench/run $(BUILD)

sanitize:
	@scripts/install-deps test
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
	@scripts/install-deps python
	scripts/check-layers

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' '*.cpp')

format:
	@scripts/install-deps format
	clang-format -i $(FORMAT_FILES)

format-check:
	@scripts/install-deps format
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

fuzz:
	@scripts/install-deps fuzz
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

# Installs the library, headers, man pages, mproc.pc and the CMake package
# under PREFIX (DESTDIR honoured). Into /usr or /usr/local, as root and
# without DESTDIR, it then runs ldconfig, so that programs find the new
# libmproc at once; elsewhere programs find it through the rpath that
# pkg-config and CMake give them.
install: lib
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --install $(BUILD) --prefix $(PREFIX) >$(BUILD)/install.log
	@grep -v '/share/man/' $(BUILD)/install.log || true
	@echo "-- Installing: $$(grep -cE '/share/man/man[37]/[^/]+\.[37]$$' $(BUILD)/install.log)" \
	    "man pages in $(DESTDIR)$(PREFIX)/share/man"
	@case "$(PREFIX)" in /usr|/usr/|/usr/local|/usr/local/) \
	    if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && \
	        command -v ldconfig >/dev/null; then \
	        echo "ldconfig"; ldconfig; \
	    fi ;; \
	esac

# make install into a temporary prefix, then programs built against it with
# pkg-config (shared and static) and CMake's find_package must run.
install-check:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	    $(MAKE) install PREFIX="$$tmp" && \
	    tests/install/check-install.sh --prefix "$$tmp" .

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
