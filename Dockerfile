# One image for every credflow service: `credflow serve <service>` picks which one runs.
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY contracts contracts
COPY services services
COPY src src
RUN uv sync --frozen --no-dev --all-packages --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 credflow \
    && install -d -o credflow -m 0700 /var/lib/credflow/keyring
COPY --from=build /app/.venv /app/.venv
COPY deploy /app/deploy
ENV PATH=/app/.venv/bin:$PATH CREDFLOW_ENVIRONMENT=production CREDFLOW_HTTP_HOST=0.0.0.0
WORKDIR /app
USER credflow
ENTRYPOINT ["credflow"]
CMD ["serve", "all"]
