# Quire: `make run` sets everything up and starts the app; `make test` sets up and runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.quire-installed
HOST ?= 127.0.0.1
PORT ?= 8501
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1
export ORT_DISABLE_TELEMETRY = 1
export DO_NOT_TRACK = 1
export ANONYMIZED_TELEMETRY = False

.PHONY: install sysdeps run test test-fast bench lint clean

install: $(STAMP)

# llama.cpp is compiled for portable AVX2, not `-march=native`: a native build on a CPU that
# advertises AMX tiles the kernel does not grant (virtual machines) dies with SIGILL on the
# first matrix product. The wheel is kept under .cache/ so a new venv does not rebuild it.
LLAMA_SPEC := llama-cpp-python>=0.3.16,<0.4
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS := .cache/wheels
LLAMA_STAMP := $(LLAMA_WHEELS)/.built-portable

$(LLAMA_STAMP):
	rm -rf $(LLAMA_WHEELS) && mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" python3 -m pip wheel --quiet --no-cache-dir --no-deps -w $(LLAMA_WHEELS) '$(LLAMA_SPEC)'
	touch $@

# torch first, pinned to the CPU build, so no multi-GB CUDA build is pulled in.
$(STAMP): pyproject.toml $(LLAMA_STAMP)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# System packages: Chromium for the browser tests, Tesseract and poppler for OCR, docker-compose to
# validate docker-compose.yml (no Docker engine needed).
sysdeps:
	@missing=""; \
	for bin in chromium:chromium tesseract:tesseract-ocr pdftoppm:poppler-utils strace:strace docker-compose:docker-compose; do \
	  command -v $${bin%%:*} >/dev/null || missing="$$missing $${bin##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install
	$(VENV)/bin/quire serve --host $(HOST) --port $(PORT)

test: install sysdeps
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not browser"

BENCH_STAMP := $(VENV)/.quire-bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m pip install --quiet --no-deps 'llama-index-readers-file>=0.7'
	touch $@

# check_outputs.py is not a benchmark: it checks one batch's output folder (`python bench/check_outputs.py OUT DATA_DIR`).
BENCH_SCRIPTS := $(filter-out bench/check_outputs.py,$(wildcard bench/*.py))

bench: $(BENCH_STAMP)
	@for script in $(BENCH_SCRIPTS); do echo "== $$script"; $(PY) $$script || exit 1; done

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
