# glamor-mini: every target creates .venv on first use (torch 2.13.0 first, so no CUDA build is pulled).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
OUT    ?= runs/demo

.PHONY: demo test lint docs bench lab notebooks clean-venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all]'
	@touch $(STAMP)

## make demo: train + evaluate GLAMOR on the paper's 7x7 grid world (about 60-75 s on a 2-core CPU)
demo: $(STAMP)
	$(PY) -m glamor_mini.run gridworld --out $(OUT)

## make test: ruff, the docs site (warnings as errors), pytest (unit tests, every notebook via nbval)
test: $(STAMP) lint docs
	$(PY) -m pytest -q --nbval-lax -p no:cacheprovider tests notebooks

## make docs: the documentation site (README, docs/, the notebooks as committed, not re-run)
## into docs/_build/html; warnings are errors (a broken link, a missing figure, a bad reference)
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -b html -c docs -E -W --keep-going -n -q . docs/_build/html
	@echo "site: docs/_build/html/index.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## make bench: speed benchmarks; each prints ratios measured in the same run
bench: $(STAMP)
	@for b in $(filter-out bench/common.py bench/demo_stop_noise.py bench/layout_maps.py bench/grid_probe.py bench/final_states.py bench/encoder_probe.py bench/eval_speed.py,$(wildcard bench/*.py)); do \
		echo "== $$b"; $(PY) $$b || exit 1; done

## make notebooks: execute every notebook in a fresh kernel, in place, so that they are committed
## with their outputs (NB=notebooks/01_glamor_gridworld.ipynb runs one)
NB ?= $(sort $(wildcard notebooks/*.ipynb))
notebooks: $(STAMP)
	@for nb in $(NB); do \
		echo "== $$nb"; start=$$(date +%s); \
		$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=900 --ExecutePreprocessor.kernel_name=python3 "$$nb" \
			|| exit 1; \
		echo "   $$(( $$(date +%s) - start )) s, $$(du -k "$$nb" | cut -f1) kB"; \
	done

## make lab: JupyterLab on the notebooks
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

clean-venv:
	rm -rf $(VENV)
