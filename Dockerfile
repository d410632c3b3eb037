# First version: the sample table of every family on CPU. A later change adds the GPU image.
#   docker build -t hardnet . && docker run --rm hardnet --seeds 4 --num 20000
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 hardnet
USER 1000

ENTRYPOINT ["python", "benchmarks/sample_table.py"]
