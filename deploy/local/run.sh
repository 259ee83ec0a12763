#!/usr/bin/env bash
# `make run`: every credflow service in one process (`credflow serve all`), in the foreground.
# The infrastructure is already up (make up). Ctrl-C stops the services; `make down` stops the
# infrastructure too. The process's pid file lets `make down` stop a backgrounded `make run`.
set -euo pipefail
cd "$(dirname "$0")/../.."
state="${CREDFLOW_CACHE:-$HOME/.cache/credflow}/state"
mkdir -p "$state/run"

echo
echo "credflow is starting. Services:"
.venv/bin/credflow services | sed 's/^/  /'
echo "Infrastructure:"
echo "  Kafka       ${KAFKA_BOOTSTRAP_SERVERS}"
echo "  PostgreSQL  ${DATABASE_URL}"
echo "  MinIO (S3)  ${S3_ENDPOINT_URL}   console http://127.0.0.1:19001 (${S3_ACCESS_KEY} / ${S3_SECRET_KEY})"
echo "  SMTP        ${SMTP_HOST}:${SMTP_PORT}   mail API ${MAIL_API_URL}/api/v1/messages"
echo "Each service: /health /ready /metrics and /docs (OpenAPI). Ctrl-C stops the services."
echo

.venv/bin/credflow serve all &
pid=$!
echo "$pid" > "$state/run/credflow.pid"
stop() { kill -INT "$pid" 2>/dev/null || true; }
trap stop INT TERM
wait "$pid" || true
wait "$pid" 2>/dev/null || true
rm -f "$state/run/credflow.pid"
echo "services stopped; the infrastructure keeps running until 'make down'"
