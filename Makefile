# Every target sets itself up: a fresh clone needs only python3 (3.10+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-neighbors clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,bench,single-cell]"
	touch $(STAMP)

# Debian's Chromium, which the tests of the interactive map drive through playwright.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

demo: $(STAMP)
	$(BIN)/aedr demo --out out --force

# Lint and format check first (ruff, configured in pyproject.toml), then the suite.
# Two pytest workers on two cores: one torch thread each, or their spinning OpenMP threads
# stall one another (tiny fits went from seconds to minutes on a busy machine).
test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	SCIPY_ARRAY_API=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadgroup

# PCA and the linear autoencoder (t-SNE, UMAP and the other autoencoders are in bench-neighbors).
# OMP_WAIT_POLICY=PASSIVE: on a busy machine torch's spinning OpenMP threads slowed a small
# autoencoder fit 20-fold (2.8 s on one thread, 72 s on two); passive waiting keeps both cores useful.
bench: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/aedr benchmark --datasets digits,mnist10k,mnist70k \
		--methods pca,ae-linear --out bench-out --report docs/benchmark-details.md --force
	$(MAKE) bench-neighbors

# Run alone, in OpenMP's default settings, as users run it: this block compares fit times of torch and
# openTSNE, and PASSIVE waiting, which protects torch on a busy machine, slows it on an idle one
# (MNIST-10k, one process each: ae-tsne 27.9 s with PASSIVE, 20.0 s without; openTSNE 29.3 s and 30.6 s).
bench-neighbors: $(STAMP)
	$(BIN)/aedr benchmark --datasets digits,breast-cancer,mnist10k,mnist70k --heldout-fraction 0.2 \
		--methods tsne,umap,ae-deep,ae-umap,ae-tsne --no-metric-cost --out bench-out/neighbors --force \
		--report BENCHMARKS.md --block neighbors --title "Neighbour-preserving autoencoders against t-SNE and UMAP"

clean:
	rm -rf $(VENV) out bench-out
