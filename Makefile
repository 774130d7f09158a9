# snnpipe: every target works from a fresh clone (each depends on `setup`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATASET ?= mnist
EPOCHS  ?= 30
HOURS   ?= 2
export WANDB_MODE ?= offline

.PHONY: setup data preprocess train eval run test bench lint reproduce plot sweep seeds clean

setup: $(STAMP)

# uv installs the same releases as pip, compiled to bytecode as pip does, in well under half
# the time (docs/engine.md). uv does not read pip's configuration: where it fails (a
# machine that reaches its packages only through an index set for pip), pip installs.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv && $(BIN)/uv pip install --quiet --compile-bytecode \
		--python $(BIN)/python -e '.[dev]' || { echo "uv failed: installing with pip"; \
		$(BIN)/pip install --quiet -e '.[dev]'; }
	touch $(STAMP)

data: setup
	$(BIN)/snnpipe fetch --dataset $(DATASET)

preprocess: setup
	$(BIN)/snnpipe preprocess --dataset $(DATASET)

train: preprocess
	$(BIN)/snnpipe train --dataset $(DATASET) --epochs $(EPOCHS) --run-dir runs/$(DATASET)-main

eval: setup
	$(BIN)/snnpipe eval runs/$(DATASET)-main

# The main job, end to end: install -> data -> preprocess -> train -> eval.
# Re-running it resumes (or, once complete, just re-evaluates) runs/$(DATASET)-main.
run: setup data preprocess
	@if [ -f runs/$(DATASET)-main/checkpoints/last.zarr/zarr.json ]; then \
		$(BIN)/snnpipe train --resume runs/$(DATASET)-main --epochs $(EPOCHS); \
	else \
		rm -rf runs/$(DATASET)-main; \
		$(BIN)/snnpipe train --dataset $(DATASET) --epochs $(EPOCHS) --run-dir runs/$(DATASET)-main; \
	fi
	$(BIN)/snnpipe eval runs/$(DATASET)-main

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n 2 --dist worksteal

bench: preprocess
	$(BIN)/python benchmarks/run_all.py

reproduce: preprocess
	$(BIN)/snnpipe reproduce --hours $(HOURS)

# Sweeps and seed studies on a dask.distributed LocalCluster (SPEC=... for your own).
SPEC ?= docs/sweeps/example.toml
sweep: preprocess
	$(BIN)/snnpipe sweep $(SPEC)

seeds: preprocess
	$(BIN)/snnpipe sweep docs/sweeps/seeds-mnist.toml

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs results .pytest_cache .ruff_cache
