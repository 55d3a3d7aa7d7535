# a8: the two set-up commands are `make demo` and `make test` (README).
ISA        := $(shell uname -m)
BUILD      := build/$(ISA)
DENO       := .tools/deno
export PATH := $(CURDIR)/.tools:$(PATH)

.PHONY: all setup build monitor scenarios servers criu-programs test test-unit test-c test-e2e demo bench bench-availability check clean

all: build

setup:
	@./scripts/setup.sh

build: setup monitor scenarios servers criu-programs

monitor:
	@$(MAKE) -s -C preload BUILD=$(CURDIR)/$(BUILD)

scenarios:
	@$(MAKE) -s -C tests/scenarios BUILD=$(CURDIR)/$(BUILD)/scenarios

criu-programs:
	@$(MAKE) -s -C tests/criu BUILD=$(CURDIR)/$(BUILD)/criu

# Test servers (tests/servers/*.c, e.g. vuln_server) into build/<isa>/.
servers:
	@$(MAKE) -s -C tests/servers BUILD=$(CURDIR)/$(BUILD)

# Format, lint and type gates, unit tests (C and Deno), then end-to-end tests with real programs.
test: build check
	@$(MAKE) -s -C preload BUILD=$(CURDIR)/$(BUILD) test
	@$(DENO) test -A --quiet src/ tests/

demo: build
	@./scripts/demo.sh

bench: build
	@$(DENO) run -A bench/run.ts

# Issue 4: throughput under injected divergences with fork checkpoints, CRIU's raw times (root).
bench-availability: build
	@$(DENO) run -A bench/availability.ts

check: setup
	@$(DENO) fmt --check
	@$(DENO) lint
	@$(DENO) check main.ts

clean:
	rm -rf build
