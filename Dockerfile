# One image for the three services; docker-compose.yml picks the app per container.
FROM python:3.11-slim
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
WORKDIR /app
ENV UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY contracts contracts
COPY domain domain
COPY services services
COPY tools tools
COPY simulator simulator
COPY bench bench
COPY seed seed
COPY policies policies
RUN uv sync --frozen --no-dev
