# Set-up and entry points. `make run` and `make test` both create .venv from nothing.
# torch==2.13.0 is installed first (the local CPU build) and then pinned by
# constraints.txt, so no dependency can pull a CUDA build of torch. The torchrl extra
# (examples/torchrl_ippo.py, run by tests/test_examples.py) adds ~5 s and no CUDA package.
# Its wheel ships a stray top-level `benchmarks/` folder; the compat editable install puts
# this checkout on sys.path, so `import benchmarks` finds ours from any directory.
# The lightning extra (training.lightning, examples/user_loop_lightning.py) pulls no CUDA
# package either.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/pip install -q -c constraints.txt

.PHONY: setup run test test-all bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(PIP) -e ".[test,torchrl,ray,lightning]" --config-settings editable_mode=compat
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m training.run_marl --env mlic-digits

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ""

bench: $(STAMP)
	$(BIN)/python -m benchmarks.throughput

clean:
	rm -rf $(VENV) build dist *.egg-info
