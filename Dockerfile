# csms: one process serving the REST API, the OCPP endpoint and the pages.
# docker build -t csms . && docker compose up   (see docs/operations.md: Docker)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CSMS_LOG_FORMAT=json

# A named volume takes the owner of the image's folder, so the files folder is made here for csms.
RUN useradd --create-home --uid 10001 csms && mkdir -p /var/lib/csms/files && chown -R csms /var/lib/csms
WORKDIR /app

COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

USER csms
WORKDIR /home/csms
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# serve applies the migrations first (nodes starting together take turns).
CMD ["csms", "serve", "--host", "0.0.0.0", "--port", "8000"]
