# The README's commands. `make` builds build/anthill; `make test` installs what
# is missing, builds and runs every test; `make demo` starts Anthill deploying
# the bundled sample project.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo bench clean format

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

configure: $(BUILD)/build.ninja

build: deps configure
	ninja -C $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure --timeout 600

demo: build
	@scripts/demo.sh $(BUILD)/anthill

bench: build
	bench/push_to_serving.py $(BUILD)/anthill
	bench/triggers.py $(BUILD)/anthill

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD)
