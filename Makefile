# postmessage: build, demo and test entry points (GNU make).
#
#   make build        cargo build --release
#   make demo         build the library and the C examples into build/, run build/seed
#   make test         cargo test; build and run every C test and example, then again under
#                     valgrind; compile the header as C++; run the Python tests if present
#   make test-python  python3 -m unittest discover -s python/tests -v (if python/tests exists)
#   make header       regenerate the committed include/postmessage.h from src/
#   make clean        remove build/ and cargo's target/
#
# Any new tests/c/*.c (a test program) or c-examples/*.c (an example) is picked up
# automatically: tests/c/NAME.c becomes build/tests/NAME, c-examples/NAME.c becomes build/NAME.
# Every C program returns non-zero on failure.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= g++
PYTHON   ?= python3
VALGRIND ?= valgrind

BUILD  := build
LIBDIR := $(or $(CARGO_TARGET_DIR),target)/release
LIB    := $(LIBDIR)/libpostmessage.so
HEADER := include/postmessage.h

PM_CFLAGS   := -std=c11 -Wall -Wextra -Wpedantic -Werror -g -O1 -Iinclude
PM_CXXFLAGS := -Wall -Wextra -Werror -g -Iinclude
PM_LDFLAGS  := -L$(LIBDIR) -lpostmessage -Wl,-rpath,$(abspath $(LIBDIR)) -pthread
VALGRIND_FLAGS := -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite

TEST_SRCS    := $(sort $(wildcard tests/c/*.c))
EXAMPLE_SRCS := $(sort $(wildcard c-examples/*.c))
TEST_BINS    := $(patsubst tests/c/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
EXAMPLE_BINS := $(patsubst c-examples/%.c,$(BUILD)/%,$(EXAMPLE_SRCS))
C_PROGRAMS   := $(TEST_BINS) $(EXAMPLE_BINS)
CXX_CHECK    := $(BUILD)/cxx/header_check

.PHONY: all build demo test test-rust test-c test-cxx test-python header clean FORCE
.DELETE_ON_ERROR:

all: build

# Cargo decides whether anything needs rebuilding; it leaves the library untouched when not,
# so the C programs are only relinked when the library really changed.
build: $(LIB)

$(LIB): FORCE
	$(CARGO) build --release

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

# The header compiled as C++ and linked: proves the extern "C" guards.
$(CXX_CHECK): tests/cxx/header_check.cpp $(HEADER) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(PM_CXXFLAGS) $(CXXFLAGS) $< -o $@ $(PM_LDFLAGS) $(LDFLAGS)

# ---------------------------------------------------------------------------------------------
# Tests

test-rust:
	$(CARGO) test

test-cxx: $(CXX_CHECK)
	./$(CXX_CHECK)

test-python: $(LIB)
	@if [ -d python/tests ]; then \
	  echo "$(PYTHON) -m unittest discover -s python/tests -v"; \
	  $(PYTHON) -m unittest discover -s python/tests -v; \
	else \
	  echo "python/tests does not exist: no Python tests to run"; \
	fi

# Runs every C program, then every one again under valgrind, then the Python tests; prints
# "N passed, M failed" (N and M count C program runs) and fails if anything failed.
test-c: $(C_PROGRAMS)
	@if ! command -v $(VALGRIND) >/dev/null 2>&1; then \
	  echo "error: $(VALGRIND) not found; install it (apt-get install -y valgrind) or run .ci/run"; \
	  exit 1; \
	fi
	@pass=0; fail=0; failed=""; \
	for p in $(C_PROGRAMS); do \
	  echo "==> ./$$p"; \
	  if ./$$p; then pass=$$((pass + 1)); else echo "FAILED: ./$$p (exit $$?)"; fail=$$((fail + 1)); failed="$$failed ./$$p"; fi; \
	done; \
	for p in $(C_PROGRAMS); do \
	  echo "==> $(VALGRIND) ./$$p"; \
	  if $(VALGRIND) $(VALGRIND_FLAGS) ./$$p; then pass=$$((pass + 1)); else echo "FAILED: $(VALGRIND) ./$$p (exit $$?)"; fail=$$((fail + 1)); failed="$$failed valgrind:./$$p"; fi; \
	done; \
	python_ok=1; \
	$(MAKE) --no-print-directory test-python || python_ok=0; \
	echo; \
	if [ -n "$$failed" ]; then echo "failed C programs:$$failed"; fi; \
	if [ $$python_ok -eq 0 ]; then echo "the Python tests FAILED"; fi; \
	echo "$$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ] && [ $$python_ok -eq 1 ]

test: test-rust test-cxx
	@$(MAKE) --no-print-directory test-c

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
