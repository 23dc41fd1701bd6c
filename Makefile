# postmessage: build, demo and test entry points (GNU make).
#
#   make build        cargo build --release
#   make demo         build the library and the C examples into build/, run build/seed
#   make deps         install the system packages the tests need (.ci/deps; `make test` runs it)
#   make test         cargo test; build and run every C test and example, then again under
#                     valgrind; compile the header as C++; run the Python tests if present;
#                     build the Python wheel and run the seed from it in a fresh venv
#   make test-python  python3 -m unittest discover -s python/tests -v (if python/tests exists)
#   make test-node    build the Node.js binding (bindings/node) and run its tests with node --test
#                     (skipped, with a message, when node is not installed; part of `make test`)
#   make test-wheel   pip wheel ./python, install it into a fresh venv, run the seed from /tmp
#                     (tests/wheel/run.sh; part of `make test`)
#   make test-readme  build and run the README's C, C++ and Python quick starts (part of `make test`)
#   make test-loom    loom model tests of the concurrency core (tests/loom.rs; part of `make test`)
#   make test-tsan    the threaded Rust tests under ThreadSanitizer (needs nightly and its
#                     rust-src component: rustup component add rust-src --toolchain nightly)
#   make test-redis   the remote-window example across a Redis server (c-examples/redis/): starts
#                     its own redis-server on a free port (part of `make test`; needs
#                     apt-get install -y redis-server libhiredis-dev)
#   make bench        the benchmark table (benches/run.sh; see docs/performance.md)
#   make header       regenerate the committed include/postmessage.h from src/
#   make install      install the library, headers, pkg-config file and CMake package under
#                     PREFIX (default /usr/local; also DESTDIR, libdir, includedir, PC_RPATH)
#   make uninstall    remove what `make install` installed (same variables)
#   make test-install install into a temporary prefix and build and run programs against it
#                     (pkg-config, CMake find_package, static link; part of `make test`)
#   make clean        remove build/ and cargo's target/
#
# Any new tests/c/*.c (a test program) or c-examples/*.c (an example) is picked up
# automatically: tests/c/NAME.c becomes build/tests/NAME, c-examples/NAME.c becomes build/NAME,
# and c-examples/NAME.cpp (a C++17 example using include/postmessage.hpp) becomes
# build/cxx/NAME. Every program returns non-zero on failure.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= g++
PYTHON   ?= python3
VALGRIND ?= valgrind

BUILD  := build
LIBDIR := $(or $(CARGO_TARGET_DIR),target)/release
LIB    := $(LIBDIR)/libpostmessage.so
HEADER := include/postmessage.h
# The system libraries a static link against libpostmessage.a needs (for `make install`).
NATIVE_LIBS := $(BUILD)/native-static-libs

PM_CFLAGS   := -std=c11 -Wall -Wextra -Wpedantic -Werror -g -O1 -Iinclude
PM_CXXFLAGS := -Wall -Wextra -Werror -g -Iinclude
PM_CXX17FLAGS := -std=c++17 -Wall -Wextra -Wpedantic -Werror -g -O1 -Iinclude
PM_LDFLAGS  := -L$(LIBDIR) -lpostmessage -Wl,-rpath,$(abspath $(LIBDIR)) -pthread
VALGRIND_FLAGS := -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite

TEST_SRCS    := $(sort $(wildcard tests/c/*.c))
EXAMPLE_SRCS := $(sort $(wildcard c-examples/*.c))
TEST_BINS    := $(patsubst tests/c/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
EXAMPLE_BINS := $(patsubst c-examples/%.c,$(BUILD)/%,$(EXAMPLE_SRCS))
C_PROGRAMS   := $(TEST_BINS) $(EXAMPLE_BINS)
CXX_EXAMPLE_SRCS := $(sort $(wildcard c-examples/*.cpp))
CXX_EXAMPLE_BINS := $(patsubst c-examples/%.cpp,$(BUILD)/cxx/%,$(CXX_EXAMPLE_SRCS))
# Every program `make test-c` runs (natively and under valgrind).
RUN_PROGRAMS := $(C_PROGRAMS) $(CXX_EXAMPLE_BINS)
CXX_CHECK    := $(BUILD)/cxx/header_check

# The version, from Cargo.toml, and the shared library's file names. The soname follows
# cargo-c's rule (build.rs sets it): 0.0.z -> .so.0.0.z, 0.y.z -> .so.0.y, x.y.z -> .so.x.
PKG_VERSION     := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
PKG_DESCRIPTION := $(shell sed -n 's/^description *= *"\(.*\)" *$$/\1/p' Cargo.toml | head -n 1)
VERSION_PARTS   := $(subst ., ,$(firstword $(subst -, ,$(subst +, ,$(PKG_VERSION)))))
VERSION_MAJOR   := $(word 1,$(VERSION_PARTS))
VERSION_MINOR   := $(word 2,$(VERSION_PARTS))
VERSION_PATCH   := $(word 3,$(VERSION_PARTS))
SOVERSION := $(if $(filter 0,$(VERSION_MAJOR)),$(if $(filter 0,$(VERSION_MINOR)),0.0.$(VERSION_PATCH),0.$(VERSION_MINOR)),$(VERSION_MAJOR))
SONAME    := libpostmessage.so.$(SOVERSION)
REALNAME  := libpostmessage.so.$(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

.PHONY: all build demo deps test test-rust test-loom test-tsan test-c test-cxx test-python test-node test-wheel test-readme test-install header \
        test-redis \
        bench clean \
        install uninstall FORCE
.DELETE_ON_ERROR:

all: build

# Cargo decides whether anything needs rebuilding; it leaves the library untouched when not,
# so the C programs are only relinked when the library really changed.
build: $(LIB) $(NATIVE_LIBS)

# The library's soname is libpostmessage.so.$(SOVERSION): programs linked against it look that
# name up at run time, so it is linked next to cargo's output.
$(LIB): FORCE
	$(CARGO) build --release
	@ln -sf libpostmessage.so $(LIBDIR)/$(SONAME)

header:
	PM_UPDATE_HEADER=1 $(CARGO) build

demo: $(EXAMPLE_BINS)
	@echo
	./$(BUILD)/seed

# ---------------------------------------------------------------------------------------------
# C programs

$(BUILD)/tests/%: tests/c/%.c $(wildcard tests/c/*.h) $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(PM_CFLAGS) $(CFLAGS) $< -o $@ $(PM_LDFLAGS) $(LDFLAGS)

$(BUILD)/%: c-examples/%.c $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(PM_CFLAGS) $(CFLAGS) $< -o $@ $(PM_LDFLAGS) $(LDFLAGS)

# C++17 examples using the wrapper include/postmessage.hpp.
$(BUILD)/cxx/%: c-examples/%.cpp include/postmessage.hpp $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(PM_CXX17FLAGS) $(CXXFLAGS) $< -o $@ $(PM_LDFLAGS) $(LDFLAGS)

# The Redis example links hiredis, so it has its own rule (the generic one above is for
# c-examples/*.c only; an explicit rule wins over it).
REDIS_EXAMPLE := $(BUILD)/redis/remote_redis
REDIS_APT     := apt-get install -y redis-server libhiredis-dev
$(REDIS_EXAMPLE): c-examples/redis/remote_redis.c $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(PM_CFLAGS) $(CFLAGS) $< -o $@ $(PM_LDFLAGS) -lhiredis $(LDFLAGS)

# The header compiled as C++ and linked: proves the extern "C" guards.
$(CXX_CHECK): tests/cxx/header_check.cpp $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(PM_CXXFLAGS) $(CXXFLAGS) $< -o $@ $(PM_LDFLAGS) $(LDFLAGS)

# ---------------------------------------------------------------------------------------------
# Tests

test-rust:
	$(CARGO) test

# loom explores the interleavings of the handle table and listener lifetime (bounded to 6
# preemptions per execution, which keeps the run to seconds); it needs its own cfg, so it
# builds in its own target directory.
test-loom:
	LOOM_MAX_PREEMPTIONS=$(or $(LOOM_MAX_PREEMPTIONS),6) RUSTFLAGS="--cfg loom" \
	  CARGO_TARGET_DIR=$(or $(CARGO_TARGET_DIR),target)/loom \
	  $(CARGO) test --release --test loom

# ThreadSanitizer needs std rebuilt with it (-Zbuild-std), so nightly; not part of `make test`.
test-tsan:
	RUSTFLAGS="-Zsanitizer=thread" CARGO_TARGET_DIR=$(or $(CARGO_TARGET_DIR),target)/tsan \
	  $(CARGO) +nightly test -Zbuild-std --target x86_64-unknown-linux-gnu \
	  --lib --test core --test messaging --test extensions --test stress

# The system packages the tests need (valgrind, cmake, ...): installed with apt-get when root
# or sudo allows, else it stops with the command to run. The table is in .ci/deps.
deps:
	@bash .ci/deps test

test-cxx: $(CXX_CHECK)
	./$(CXX_CHECK)

bench: build
	bash benches/run.sh

# Two processes that only share a Redis server (tests/redis/run.sh starts and stops it).
test-redis:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	printf '#include <hiredis/hiredis.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libhiredis-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "error: the Redis test needs$$missing; install with: $(REDIS_APT)"; \
	  exit 1; \
	fi
	@$(MAKE) --no-print-directory $(REDIS_EXAMPLE)
	sh tests/redis/run.sh ./$(REDIS_EXAMPLE)

test-python: $(LIB)
	@if [ -d python/tests ]; then \
	  echo "$(PYTHON) -m unittest discover -s python/tests -v"; \
	  $(PYTHON) -m unittest discover -s python/tests -v; \
	else \
	  echo "python/tests does not exist: no Python tests to run"; \
	fi

# The Node.js binding: npm fetches its one dependency (node-api-headers) the first time, the
# system C compiler builds the addon against $(LIB), then Node's own test runner runs the tests.
NODE ?= node
test-node: $(LIB)
	@if ! command -v $(NODE) >/dev/null 2>&1; then \
	  echo "test-node: SKIPPED: $(NODE) is not installed, so the Node.js binding (bindings/node) was not tested"; \
	  exit 0; \
	fi; \
	set -e; \
	PM_WERROR=1 sh bindings/node/scripts/setup.sh; \
	echo "cd bindings/node && $(NODE) --expose-gc --test test/*.test.js"; \
	cd bindings/node && $(NODE) --expose-gc --test test/*.test.js

# The Python package as a user installs it: the wheel carries the library (cargo builds into
# target/wheel, kept between runs).
test-wheel:
	PYTHON='$(PYTHON)' bash tests/wheel/run.sh

# The README's C, C++ and Python quick starts, cut out of README.md, built and run.
test-readme: $(LIB)
	PYTHON='$(PYTHON)' CC='$(CC)' CXX='$(CXX)' bash tests/readme/run.sh

# Runs every C and C++ program, then every one again under valgrind, then the Python tests, the
# wheel, README and Redis tests and the install tests; prints "N passed, M failed" (N and M count program runs,
# the Redis test and install checks) and fails if anything failed.
test-c: $(RUN_PROGRAMS)
	@if ! command -v $(VALGRIND) >/dev/null 2>&1; then \
	  echo "error: $(VALGRIND) not found; run make deps (or apt-get install -y valgrind)"; \
	  exit 1; \
	fi
	@pass=0; fail=0; failed=""; \
	for p in $(RUN_PROGRAMS); do \
	  echo "==> ./$$p"; \
	  if ./$$p; then pass=$$((pass + 1)); else echo "FAILED: ./$$p (exit $$?)"; fail=$$((fail + 1)); failed="$$failed ./$$p"; fi; \
	done; \
	for p in $(RUN_PROGRAMS); do \
	  echo "==> $(VALGRIND) ./$$p"; \
	  if $(VALGRIND) $(VALGRIND_FLAGS) ./$$p; then pass=$$((pass + 1)); else echo "FAILED: $(VALGRIND) ./$$p (exit $$?)"; fail=$$((fail + 1)); failed="$$failed valgrind:./$$p"; fi; \
	done; \
	python_ok=1; \
	$(MAKE) --no-print-directory test-python || python_ok=0; \
	suites_failed=""; \
	for t in test-wheel test-readme; do \
	  $(MAKE) --no-print-directory $$t || suites_failed="$$suites_failed $$t"; \
	done; \
	echo "==> make test-redis"; \
	if $(MAKE) --no-print-directory test-redis; then pass=$$((pass + 1)); \
	else echo "FAILED: make test-redis"; fail=$$((fail + 1)); failed="$$failed test-redis"; fi; \
	rm -f $(INSTALL_COUNTS); \
	$(MAKE) --no-print-directory test-install || true; \
	if [ -r $(INSTALL_COUNTS) ]; then read ipass ifail < $(INSTALL_COUNTS); \
	else echo "FAILED: make test-install did not finish"; ipass=0; ifail=1; fi; \
	pass=$$((pass + ipass)); fail=$$((fail + ifail)); \
	if [ $$ifail -ne 0 ]; then failed="$$failed install-tests($$ifail)"; fi; \
	echo; \
	if [ -n "$$failed" ]; then echo "failed programs:$$failed"; fi; \
	if [ $$python_ok -eq 0 ]; then echo "the Python tests FAILED"; fi; \
	if [ -n "$$suites_failed" ]; then echo "FAILED:$$suites_failed"; fi; \
	echo "$$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ] && [ $$python_ok -eq 1 ] && [ -z "$$suites_failed" ]

test: deps test-rust test-loom test-cxx
	@$(MAKE) --no-print-directory test-c
	@$(MAKE) --no-print-directory test-node

# ---------------------------------------------------------------------------------------------
# Installing (docs/building.md)
#
#   make install PREFIX=/opt/pm              /opt/pm/lib/libpostmessage.so.X.Y.Z and symlinks,
#                                            libpostmessage.a, include/postmessage.h(pp),
#                                            lib/pkgconfig/postmessage.pc,
#                                            lib/cmake/postmessage/postmessageConfig*.cmake
#   make install DESTDIR=/tmp/stage PREFIX=/usr   staged: files under /tmp/stage/usr, paths
#                                            inside them say /usr
#   make uninstall PREFIX=/opt/pm            (with the same DESTDIR, libdir... as the install)

PREFIX       ?= /usr/local
DESTDIR      ?=
libdir       ?= $(PREFIX)/lib
includedir   ?= $(PREFIX)/include
pkgconfigdir ?= $(libdir)/pkgconfig
cmakedir     ?= $(libdir)/cmake/postmessage
INSTALL      ?= install
RUSTC        ?= rustc
# yes: postmessage.pc's Libs gets -Wl,-rpath,${libdir}; auto: only when libdir is not one of
# the directories the dynamic linker always searches.
PC_RPATH     ?= auto

INSTALL_COUNTS := $(BUILD)/test-install.counts
pc_rpath_on := $(if $(filter auto,$(PC_RPATH)),$(if $(filter /lib /lib64 /usr/lib /usr/lib64 /lib/% /usr/lib/%,$(libdir)),,yes),$(filter yes,$(PC_RPATH)))
# A path under PREFIX written as ${prefix}/... in the .pc file.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
, := ,

# The system libraries a static link against libpostmessage.a needs: rustc prints them when it
# links a staticlib, and a one-line staticlib that links the release rlib gets the same list.
# (Made by `make build`, when the library changed, so that `sudo make install` needs no rustc.)
$(NATIVE_LIBS): $(LIB)
	@mkdir -p $(BUILD)/probe
	@echo 'extern crate postmessage;' > $(BUILD)/probe/probe.rs
	@$(RUSTC) --edition 2021 --crate-type staticlib --crate-name pm_native_libs_probe \
	  --print native-static-libs --extern postmessage=$(LIBDIR)/libpostmessage.rlib \
	  -L dependency=$(LIBDIR)/deps -o $(BUILD)/probe/libprobe.a $(BUILD)/probe/probe.rs 2>&1 \
	  | sed -n 's/^note: native-static-libs: *//p' > $@.tmp
	@rm -rf $(BUILD)/probe
	@if [ -s $@.tmp ]; then mv $@.tmp $@; else \
	  rm -f $@.tmp; \
	  echo "error: rustc --print native-static-libs printed nothing for $(LIBDIR)/libpostmessage.rlib"; \
	  exit 1; \
	fi

install: export PM_version        = $(PKG_VERSION)
install: export PM_version_major  = $(VERSION_MAJOR)
install: export PM_version_minor  = $(VERSION_MINOR)
install: export PM_version_patch  = $(VERSION_PATCH)
install: export PM_description    = $(PKG_DESCRIPTION)
install: export PM_prefix         = $(PREFIX)
install: export PM_pc_libdir      = $(call pc_path,$(libdir))
install: export PM_pc_includedir  = $(call pc_path,$(includedir))
install: export PM_pc_rpath       = $(if $(pc_rpath_on), -Wl$(,)-rpath$(,)$${libdir})
install: export PM_soname         = $(SONAME)
install: export PM_realname       = $(REALNAME)

# Builds first, unless cargo is not on PATH (as under `sudo make install` after `make build`):
# then it installs what the last build left.
install: $(if $(shell command -v $(CARGO) 2>/dev/null),build)
	@set -e; \
	for f in $(LIB) $(LIBDIR)/libpostmessage.a $(NATIVE_LIBS); do \
	  if [ ! -f $$f ]; then echo "error: $$f is missing: run make build first"; exit 1; fi; \
	done; \
	libs=$$(cat $(NATIVE_LIBS)); \
	export PM_native_static_libs="$$libs"; \
	export PM_cmake_native_static_libs="$$(printf '%s\n' $$libs | sed 's/^-l//' | paste -sd ';' -)"; \
	export PM_cmake_rel_libdir="$$(realpath -s -m --relative-to='$(cmakedir)' '$(libdir)')"; \
	export PM_cmake_rel_includedir="$$(realpath -s -m --relative-to='$(cmakedir)' '$(includedir)')"; \
	export PM_sizeof_void_p="$$(printf '__SIZEOF_POINTER__\n' | $(CC) -E -P -x c - | tail -n 1)"; \
	gen=$$(mktemp -d); \
	trap 'rm -rf "$$gen"' EXIT; \
	for f in postmessage.pc postmessageConfig.cmake postmessageConfigVersion.cmake; do \
	  awk -f packaging/configure_file.awk packaging/$$f.in > "$$gen/$$f"; \
	done; \
	run() { echo "$$*"; "$$@"; }; \
	run $(INSTALL) -d '$(DESTDIR)$(libdir)' '$(DESTDIR)$(includedir)' '$(DESTDIR)$(pkgconfigdir)' '$(DESTDIR)$(cmakedir)'; \
	run $(INSTALL) -m 755 $(LIB) '$(DESTDIR)$(libdir)/$(REALNAME)'; \
	$(if $(filter-out $(SONAME),$(REALNAME)),run ln -sf $(REALNAME) '$(DESTDIR)$(libdir)/$(SONAME)';) \
	run ln -sf $(REALNAME) '$(DESTDIR)$(libdir)/libpostmessage.so'; \
	run $(INSTALL) -m 644 $(LIBDIR)/libpostmessage.a '$(DESTDIR)$(libdir)/libpostmessage.a'; \
	run $(INSTALL) -m 644 include/postmessage.h include/postmessage.hpp '$(DESTDIR)$(includedir)/'; \
	run $(INSTALL) -m 644 "$$gen/postmessage.pc" '$(DESTDIR)$(pkgconfigdir)/postmessage.pc'; \
	run $(INSTALL) -m 644 "$$gen/postmessageConfig.cmake" "$$gen/postmessageConfigVersion.cmake" \
	  '$(DESTDIR)$(cmakedir)/'

uninstall:
	rm -f '$(DESTDIR)$(libdir)/$(REALNAME)' '$(DESTDIR)$(libdir)/$(SONAME)' \
	  '$(DESTDIR)$(libdir)/libpostmessage.so' '$(DESTDIR)$(libdir)/libpostmessage.a' \
	  '$(DESTDIR)$(includedir)/postmessage.h' '$(DESTDIR)$(includedir)/postmessage.hpp' \
	  '$(DESTDIR)$(pkgconfigdir)/postmessage.pc' \
	  '$(DESTDIR)$(cmakedir)/postmessageConfig.cmake' \
	  '$(DESTDIR)$(cmakedir)/postmessageConfigVersion.cmake'
	@rmdir '$(DESTDIR)$(cmakedir)' 2>/dev/null || true

# Installs into a temporary prefix (removed afterwards) and builds and runs programs against the
# installed copy: with pkg-config, with CMake's find_package, and statically. Writes
# "PASSED FAILED" to $(INSTALL_COUNTS) for test-c's summary.
test-install: build
	@PM_MAKE='$(MAKE)' PM_CC='$(CC)' PM_CXX='$(CXX)' PM_VALGRIND='$(VALGRIND)' PM_VERSION='$(PKG_VERSION)' \
	  PM_SONAME='$(SONAME)' PM_REALNAME='$(REALNAME)' PM_COUNTS='$(abspath $(INSTALL_COUNTS))' \
	  sh tests/install/run.sh

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
