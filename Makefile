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

.PHONY: sim test bench verilog derive lint clean distclean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

## main job: derivation report + whatever the default config can build and simulate
sim: $(STAMP)
	$(BIN)/dojo sim $(CONFIG) --out $(OUT)

## the test suite (both simulators when iverilog is installed)
test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests

## benchmarks: writes BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python -m sim.bench --out BENCHMARKS.md

derive: $(STAMP)
	$(BIN)/dojo derive $(CONFIG)

verilog: $(STAMP)
	$(BIN)/dojo verilog $(CONFIG) -o build/verilog

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info
