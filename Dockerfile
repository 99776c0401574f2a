# Cluster Concierge: the bot (default command) and the staff ingestion (`concierge-ingest`) in one image.
# The packaged embedding models are PyPI packages, so their files are inside the image: nothing is
# downloaded at run time.
#
#   docker build -t cluster-concierge .
#   docker build --build-arg TORCH_INDEX_URL=<a PyTorch CPU wheel index> -t cluster-concierge .   # smaller image
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    KB_STORE_PATH=/data/chroma \
    CONCIERGE_STATE_PATH=/data/concierge.sqlite3

RUN useradd --create-home --uid 10001 concierge \
    && mkdir -p /data /app && chown concierge:concierge /data

WORKDIR /app
# torch first and pinned: an unpinned torch pulls several GB of CUDA packages.
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install torch==2.13.0 --index-url "$TORCH_INDEX_URL"; \
    else pip install torch==2.13.0; fi
COPY pyproject.toml README.md ingest.py ./
COPY knowledge ./knowledge
COPY bot ./bot
RUN pip install . \
    && python -c "from knowledge.embedding import load_embedder; load_embedder('use-multilingual').encode_passages(['ok'])"

USER concierge
VOLUME ["/data"]
EXPOSE 3000 3978
CMD ["python", "-m", "bot"]
