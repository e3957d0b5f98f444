# The README's commands. `make` builds build/anthill; `make test` installs what
# is missing, builds and runs every test, then builds and runs them all again
# under AddressSanitizer + UBSan (`make test-asan` alone); `make demo` starts
# Anthill deploying the bundled sample project; `make demo-fleet` does it with
# a fleet on one machine (PostgreSQL, an orchestrator, two builders).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

# For the sanitized test run. ASan/LSan reports go to files in ASAN_LOGS, not to
# stderr: the anthill daemons the e2e tests start write their stderr to a log
# in a temp dir that is deleted, and their exit status is not checked, so a
# leak found when one exits would otherwise pass unseen. Any file there fails
# the run. (UBSan ignores log_path when combined with ASan and reports on
# stderr; -fno-sanitize-recover makes it end the process at once.)
ASAN_LOGS = $(abspath $(ASAN_BUILD))/sanitizer-logs
ASAN_OPTIONS_TEST = detect_leaks=1:abort_on_error=0:halt_on_error=1:log_path=$(ASAN_LOGS)/asan:log_exe_name=1
UBSAN_OPTIONS_TEST = print_stacktrace=1:halt_on_error=1

.PHONY: all deps configure build test demo demo-fleet bench bench-fleet clean format asan-configure asan-build test-asan

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

configure: $(BUILD)/build.ninja

build: deps configure
	ninja -C $(BUILD) -j $(JOBS)

# The plain suite first; the sanitized one only when it passed, so the last
# line is always the summary of the suite that decided the result.
test: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 600
	@$(MAKE) --no-print-directory test-asan

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DANTHILL_SANITIZE=ON >/dev/null

asan-configure: $(ASAN_BUILD)/build.ninja

asan-build: deps asan-configure
	ninja -C $(ASAN_BUILD) -j $(JOBS)

test-asan: asan-build
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@cd $(ASAN_BUILD) && \
	  export ASAN_OPTIONS=$(ASAN_OPTIONS_TEST) UBSAN_OPTIONS=$(UBSAN_OPTIONS_TEST) && \
	  echo "cd $(ASAN_BUILD) && ASAN_OPTIONS=$$ASAN_OPTIONS UBSAN_OPTIONS=$$UBSAN_OPTIONS ctest ..." && \
	  rc=0; ctest -j $(JOBS) --output-on-failure --timeout 600 || rc=$$?; \
	  if [ -n "$$(ls -A $(ASAN_LOGS))" ]; then \
	    for f in $$(ls $(ASAN_LOGS) | head -3); do echo "==== $(ASAN_LOGS)/$$f"; cat "$(ASAN_LOGS)/$$f"; done; \
	    echo "==== every report's summary:"; grep -H '^SUMMARY:' $(ASAN_LOGS)/*; \
	    echo "sanitizer errors in $$(ls $(ASAN_LOGS) | wc -l) process(es); reports kept in $(ASAN_LOGS)"; \
	    exit 1; \
	  fi; \
	  exit $$rc

demo: build
	@scripts/demo.sh $(BUILD)/anthill

# README's "A fleet" on one machine: its own PostgreSQL 15, an orchestrator
# and two builders, all in demo-fleet/ (ports 7071, 8081, 55433).
demo-fleet: build
	@scripts/demo_fleet.sh $(BUILD)/anthill

bench: build
	bench/push_to_serving.py $(BUILD)/anthill
	bench/triggers.py $(BUILD)/anthill
	bench/zero_downtime.py $(BUILD)/anthill
	bench/ui_server.py $(BUILD)/anthill

# A fleet's numbers (PostgreSQL of its own, an orchestrator, two builders):
# queued job -> claim, a 100 MB artifact beside curl, connections per role.
bench-fleet: build
	bench/fleet_bench.py $(BUILD)/anthill

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# libFuzzer harnesses (fuzz/), built with clang++-14 in FUZZ_BUILD, run one at
# a time: `make fuzz` runs each for FUZZ_SECONDS, `make fuzz-regress` runs each
# over its corpus in fuzz/corpus/ once. (`make test` runs both briefly as the
# fuzz_* ctest entries.) Figures: docs/fuzzing.md.
FUZZ_SECONDS ?= 600
FUZZ_BUILD ?= build-fuzz

.PHONY: fuzz fuzz-regress
fuzz:
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

fuzz-regress:
	fuzz/run.sh $(FUZZ_BUILD) 0

# Stops what `make demo` started: Anthill and the program it deployed (demo/ is kept).
.PHONY: demo-stop
demo-stop:
	@scripts/demo.sh --stop

# Stops what `make demo-fleet` started: the three Anthills, the program and
# PostgreSQL (demo-fleet/ is kept).
.PHONY: demo-fleet-stop
demo-fleet-stop:
	@scripts/demo_fleet.sh --stop
