# hardnet: the benchmark runner (`hardnet-bench`) in an image, for CPU or CUDA.
#
#   docker build -t hardnet .                                   # CPU: locks/py3.11.txt
#   docker build -t hardnet:cuda --build-arg ACCELERATOR=cuda .  # CUDA 12: locks/py3.12-cuda12.txt
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/results:/work" hardnet \
#       --config=hardnet/configs/smoke.py --workdir=/work/smoke
#   docker run --rm --gpus all -v "$PWD/results:/work" hardnet:cuda \
#       --config=hardnet/configs/headline.py:gpu --workdir=/work/headline_gpu
#
# With no arguments the image runs the headline `:cpu` config into /work/headline. /work is a
# volume: mount a host folder there to keep the results (config.json, results.jsonl, tb/,
# report.md, plots/). Configs are read relative to /app, the source tree the image was built
# from, so `--config=hardnet/configs/...` works as in a checkout. The CUDA image gets the CUDA
# runtime from jax's pip wheels; the host needs only the NVIDIA driver and container toolkit.
# docs/manual.md ("Quick start", "Docker") documents the extras each ACCELERATOR installs; a test
# (tests/test_dockerfile.py) checks this file against it.

# ACCELERATOR: cpu or cuda, the name of the stage below that the image is built on. The base
# images are build arguments (a stand-in base can be named without re-tagging it); each stage
# installs from the lockfile of its Python, pinned with hashes, then hardnet without
# dependencies (the two steps of scripts/_env.sh).
ARG ACCELERATOR=cpu
ARG CPU_BASE=python:3.11-slim
ARG CUDA_BASE=python:3.12-slim

FROM ${CPU_BASE} AS cpu
ENV HARDNET_EXTRAS="" \
    HARDNET_LOCK=locks/py3.11.txt

FROM ${CUDA_BASE} AS cuda
ENV HARDNET_EXTRAS="[cuda]" \
    HARDNET_LOCK=locks/py3.12-cuda12.txt

FROM ${ACCELERATOR}
ARG ACCELERATOR
# JAX's GPU memory policy, overridable at run time (docker run -e ...): preallocate this
# fraction of GPU memory up front (JAX's defaults); PREALLOCATE=false allocates on demand.
ARG XLA_PYTHON_CLIENT_PREALLOCATE=true
ARG XLA_PYTHON_CLIENT_MEM_FRACTION=0.75
ENV XLA_PYTHON_CLIENT_PREALLOCATE=${XLA_PYTHON_CLIENT_PREALLOCATE} \
    XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION} \
    HARDNET_ACCELERATOR=${ACCELERATOR} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app
COPY . .
RUN pip install --no-cache-dir --require-hashes -r "/app/${HARDNET_LOCK}" \
    && pip install --no-cache-dir --no-deps "/app${HARDNET_EXTRAS}" \
    && useradd --create-home --uid 1000 hardnet \
    && mkdir -p /work \
    && chown hardnet /work
USER 1000
VOLUME /work

ENTRYPOINT ["hardnet-bench"]
CMD ["--config=hardnet/configs/headline.py:cpu", "--workdir=/work/headline"]
