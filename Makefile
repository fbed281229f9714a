# The README's two commands: `make demo` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STORE := .topo/demo
TOPO   := $(BIN)/topo

.PHONY: demo test lint typecheck docs bench clean neo4j-start neo4j-stop conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@scripts/ensure-dot.sh || true
	$(TOPO) ingest --from examples/istio-demo --store $(DEMO_STORE)
	$(TOPO) path integration publictest --store $(DEMO_STORE)
	@if $(TOPO) export --help >/dev/null 2>&1; then \
	  mkdir -p out && $(TOPO) export path integration publictest --store $(DEMO_STORE) -o out/path.svg \
	  && echo "path diagram written to out/path.svg"; fi

test: $(STAMP)
	@scripts/ensure-dot.sh
	@scripts/run-tests.sh

lint: $(STAMP)
	$(BIN)/ruff check topo tests
	$(BIN)/mypy topo

docs: $(STAMP)
	$(BIN)/python -m topo.model.schema > docs/schema.md
	@scripts/ensure-dot.sh
	$(TOPO) ingest --from examples/istio-demo --store .topo/docs >/dev/null
	$(TOPO) export path integration publictest --store .topo/docs -o docs/path.svg
	$(TOPO) export mesh --store .topo/docs -o docs/mesh.svg
	$(BIN)/python scripts/ci_doc.py docs/ci.md

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Regenerate the conformance data (tests/conformance/*/dumps, istioctl/) with istiod's own code:
# needs Go >= 1.26 and istiod-gen (ISTIOD_GEN, default ../shared/istiod-gen); see tests/conformance/README.md.
conformance:
	tests/conformance/regenerate.sh

clean:
	rm -rf $(VENV) .topo out .pytest_cache .mypy_cache .ruff_cache

# Longer tests (tests/soak/, skipped by `make test`) and the fuzzer for FUZZ_MINUTES per seed
# set: a 1,000-pod mesh is generated (a few GB, deleted afterwards). Figures are printed. The soak
# tests run against a real Neo4j (started unless NEO4J_URI is set); TOPO_SOAK_SEEDS sets the hostile fuzzer's seeds.
FUZZ_MINUTES ?= 5
.PHONY: soak
soak: $(STAMP)
	@scripts/ensure-dot.sh || true
	@scripts/with-neo4j.sh env TOPO_SOAK=1 $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/soak
	TOPO_FUZZ_MINUTES=$(FUZZ_MINUTES) $(BIN)/python -m pytest -q -s -p no:cacheprovider tests/test_fuzz.py -k "example_dumps or real_dumps"
