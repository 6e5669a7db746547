# Quire web app. Build: `docker compose build app` (see docker-compose.yml and README "Deployment").
# Two stages: the builder compiles llama-cpp-python (C++), the runtime image keeps only the venv.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, from the CPU index and pinned: an unpinned torch pulls a CUDA build of several GB.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
# A portable llama.cpp build: -march=native would tie the image to the build machine's CPU.
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF"
WORKDIR /app
COPY pyproject.toml README.md ./
COPY rag ./rag
COPY ingest ./ingest
RUN pip install -e .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ORT_DISABLE_TELEMETRY=1 \
    DO_NOT_TRACK=1 \
    ANONYMIZED_TELEMETRY=False \
    QUIRE_DATA_DIR=/data \
    QUIRE_SERVER__HOST=0.0.0.0 \
    QUIRE_SERVER__PORT=8501
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 quire \
 && mkdir -p /data && chown quire:quire /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY --from=builder /app /app
COPY app.py ./
COPY .streamlit ./.streamlit
USER quire
VOLUME ["/data"]
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
# Binds 0.0.0.0 inside the container so the published port reaches it; compose publishes it on the
# host's loopback only unless told otherwise (see README "Deployment").
CMD ["quire", "serve"]
