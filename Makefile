# Every target sets itself up: a fresh clone needs only python3 (3.10+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aedr demo --out out --force

test: $(STAMP)
	SCIPY_ARRAY_API=1 $(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/aedr benchmark --out bench-out --report BENCHMARKS.md

clean:
	rm -rf $(VENV) out bench-out
