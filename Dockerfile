# One image for the three moviestore processes: `moviestore api`, `moviestore worker` and
# `moviestore migrate` (Kubernetes picks the subcommand). Built from the repository root:
#
#   docker build -t moviestore:$(git rev-parse --short HEAD) .
#
# Stage 1 builds the wheel (Rust extension + Python package) with maturin; stage 2 installs it
# and its hash-pinned runtime dependencies into a virtualenv; stage 3 is the runtime: the same
# slim Python as stage 2, no compilers, no build tools, a non-root user and nothing that needs
# a writable root filesystem. Base images carry explicit versions; let the dependency bot add
# their digests (FROM python:3.11-slim-trixie@sha256:...) so that rebuilds are reproducible.

FROM rust:1.95-slim-trixie AS wheel
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Debian's Python only runs maturin; the wheel is abi3 (cp311 and newer), whatever runs it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# maturin at the version and hashes of requirements/dev.lock, without the rest of the dev tools.
COPY requirements/dev.lock requirements/dev.lock
RUN sed -n '/^maturin==/,/^[^ #]/p' requirements/dev.lock | sed '$d' > /tmp/maturin.txt \
    && python3 -m venv /opt/maturin \
    && /opt/maturin/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/maturin.txt
COPY Cargo.toml Cargo.lock pyproject.toml README.md ./
COPY rust/ rust/
COPY python/ python/
RUN /opt/maturin/bin/maturin build --release --locked --out /wheels

FROM python:3.11-slim-trixie AS install
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements/runtime.lock /tmp/runtime.lock
COPY --from=wheel /wheels/ /tmp/wheels/
# Binary wheels only: nothing is compiled here, and every dependency matches a pinned hash.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --only-binary=:all: --require-hashes -r /tmp/runtime.lock \
    && /opt/venv/bin/pip install --no-deps /tmp/wheels/moviestore-*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall -y pip

FROM python:3.11-slim-trixie AS runtime
LABEL org.opencontainers.image.title="moviestore" \
      org.opencontainers.image.description="moviestore API, ingestion worker and migrations" \
      org.opencontainers.image.licenses="Apache-2.0"
# Bytecode was compiled at install time; the root filesystem is read-only in Kubernetes and
# only /tmp (an emptyDir there) is writable.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    TMPDIR=/tmp
RUN groupadd --system --gid 10001 moviestore \
    && useradd --system --uid 10001 --gid moviestore --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin moviestore
COPY --from=install /opt/venv /opt/venv
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 9090
# Kubernetes probes /healthz and /readyz of each process; a Docker HEALTHCHECK cannot know which
# subcommand (and port) the container runs.
#checkov:skip=CKV_DOCKER_2:Kubernetes liveness/readiness probes check each subcommand on its own port; one image runs three commands.
ENTRYPOINT ["moviestore"]
CMD ["api"]
