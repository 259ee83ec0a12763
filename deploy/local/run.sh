#!/usr/bin/env bash
# `make run`: every credflow service in one process (`credflow serve all`), in the foreground,
# with the demo organisation loaded. The infrastructure is already up (make up). Ctrl-C stops
# the services; `make down` stops the infrastructure too. The process's pid file lets
# `make down` stop a backgrounded `make run`.
set -euo pipefail
cd "$(dirname "$0")/../.."
state="${CREDFLOW_CACHE:-$HOME/.cache/credflow}/state"
mkdir -p "$state/run"

# A laptop: development ("sign in as", the development secrets; production is the default).
export CREDFLOW_ENVIRONMENT="${CREDFLOW_ENVIRONMENT:-development}"
# The services accept the console's sign-in tokens: RS256, verified with the console's key.
export CREDFLOW_AUTH_JWKS_URL="${CREDFLOW_AUTH_JWKS_URL:-http://127.0.0.1:${CREDFLOW_CONSOLE_PORT:-8100}/.well-known/jwks.json}"
.venv/bin/credflow serve all &
pid=$!
echo "$pid" > "$state/run/credflow.pid"
stop() { kill -INT "$pid" 2>/dev/null || true; }
trap stop INT TERM

directory_url="http://127.0.0.1:${CREDFLOW_DIRECTORY_PORT:-8101}"
for _ in $(seq 1 120); do
  if curl -fsS "$directory_url/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "credflow exited during start-up" >&2; exit 1; fi
  sleep 0.5
done

console_url="http://127.0.0.1:${CREDFLOW_CONSOLE_PORT:-8100}"
echo
echo "================================================================================"
echo "credflow is running. Open the console in a browser:"
echo "  ${console_url}/            sign in as a demo person: ${console_url}/sign-in/as"
echo "Services (each: /health /ready /metrics /docs):"
.venv/bin/credflow services | sed 's/^/  /'
echo "Infrastructure:"
echo "  Kafka       ${KAFKA_BOOTSTRAP_SERVERS}"
echo "  PostgreSQL  ${DATABASE_URL}"
echo "  MinIO (S3)  ${S3_ENDPOINT_URL}   console http://127.0.0.1:19001 (${S3_ACCESS_KEY} / ${S3_SECRET_KEY})"
echo "  SMTP        ${SMTP_HOST}:${SMTP_PORT}   mail API ${MAIL_API_URL}/api/v1/messages"
echo
.venv/bin/credflow demo --url "$directory_url" || echo "(the demo organisation could not be loaded; see the log above)"
echo "================================================================================"
echo "Ctrl-C stops the services."
echo

wait "$pid" || true
wait "$pid" 2>/dev/null || true
rm -f "$state/run/credflow.pid"
echo "services stopped; the infrastructure keeps running until 'make down'"
