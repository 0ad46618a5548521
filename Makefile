# The README's two commands: `make demo` and `make test`. Everything else is a convenience.
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU machine must never pull a multi-GB CUDA torch: install the pinned CPU build first.
# On a CPU laptop without a local wheel, use e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
DEEPSPEED_SPEC ?= deepspeed==0.19.8
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo 1)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONUNBUFFERED := 1
# The project's kernel: named python3 (what the notebooks and Colab ask for), installed inside the venv; `make lab`
# puts the venv's kernels first on JUPYTER_PATH so a notebook opened in Lab runs in this environment.
KERNEL_DISPLAY_NAME := Python 3 (tina-notebooks)
LAB_PORT ?= 8888
LAB_ARGS ?=
# Two pytest-xdist workers of one thread each fill two cores without oversubscribing them (more cores: raise both).
TEST_WORKERS ?= 2
TEST_THREADS ?= 1
XDIST := -n $(TEST_WORKERS) --dist loadgroup
NBVAL := --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env --nbval-cell-timeout=900

.PHONY: help demo test quick lint install world unit nbtest figures notebooks lab colab-links gpu-resolve gpu-check clean

help:  ## list the targets
	@awk -F':.*## ' '/^[a-z][a-z-]*:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV)/.installed  ## venv with the pinned CPU stack (torch 2.13.0 CPU build), the package and the kernel

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
ifeq ($(HAS_GPU),)
	$(PY) -m pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
endif
	$(PY) -m pip install -q -e ".[dev,lab]"
ifeq ($(HAS_GPU),)
	# DeepSpeed for the ZeRO-2 launch test on CPU processes; its sdist must build against this torch, not a fetched one
	DS_ACCELERATOR=cpu $(PY) -m pip install -q --no-build-isolation "$(TORCH_SPEC)" "$(DEEPSPEED_SPEC)"
endif
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "$(KERNEL_DISPLAY_NAME)" >/dev/null
	@touch $@

world: install  ## build (or reuse) the tiny offline world
	$(PY) -c "from tina_utils.worlds import tiny; print(tiny.build())"

demo: world  ## run notebooks 01 -> 05 on the tiny profile into results/executed/
	$(PY) -m tina_utils.pipeline --profile tiny

test: lint world  ## lint + every test + nbval on the committed notebooks (what CI runs)
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q -p no:cacheprovider $(XDIST) --durations=15 tests notebooks $(NBVAL)

quick: lint world  ## the fast loop: every test without the slow, gpu or network marker (< 2 min)
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q -p no:cacheprovider $(XDIST) -m "not slow and not gpu and not network" tests

lint: install  ## ruff (pycodestyle, pyflakes, import order) on the whole tree
	$(VENV)/bin/ruff check .

unit: world  ## every test under tests/ (no notebooks)
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q $(XDIST) tests

nbtest: world  ## nbval on the committed notebooks
	$(PY) -m pytest -q notebooks $(NBVAL)

figures: install  ## redraw every figure from the tables under results/ (no model needed)
	$(PY) -m tina_utils.plots

notebooks: world  ## re-execute the committed notebooks in place (tiny profile) and strip volatile output
	$(PY) -m tina_utils.pipeline --inplace notebooks/[0-9][0-9]_*.ipynb

lab: install  ## JupyterLab on notebooks/ with the project's kernel (LAB_PORT=8888, LAB_ARGS="--no-browser ...")
	JUPYTER_PATH="$(abspath $(VENV))/share/jupyter" $(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(LAB_PORT) \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

colab-links: install  ## rewrite every Colab link and bootstrap cell: make colab-links URL=https://github.com/OWNER/REPO REF=v1
	$(PY) -m tina_utils.colab $(if $(URL),--url $(URL)) $(if $(REF),--ref $(REF))

gpu-resolve: install  ## resolve `.[gpu,dev]` for Linux x86_64 / Python 3.11 from wheels only, installing nothing (~1 min, fetches ~4 GB)
	TINA_GPU_RESOLVE=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_environment.py -k resolves_from_wheels_only

gpu-check: install  ## on a lent GPU: GPU tests, paper recipe, eval backends, 1.5B speed/memory, bf16 merge (< 10 min; dry run on a CPU)
	$(PY) benchmarks/gpu_day.py $(GPU_DAY_ARGS)

clean:  ## delete what make demo wrote under results/ (not the committed reference tables)
	rm -rf results/executed results/0[1-5]_* results/runs.csv
