# Prognos service image for docker-compose deployments.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY prognos prognos
COPY ingest ingest
COPY detection detection
COPY tasking tasking
COPY api api
COPY simulators simulators
RUN pip install --no-cache-dir ".[postgres]" && useradd --system --home /var/lib/prognos prognos \
    && mkdir -p /var/lib/prognos && chown prognos /var/lib/prognos
USER prognos
ENV PROGNOS_DATA_DIR=/var/lib/prognos
EXPOSE 8000
CMD ["prognos", "serve"]
