# Local development entry points; the work is done by the scripts in infra/bin.
# Ports and URLs can be overridden through the environment (see infra/bin/*.sh).
.PHONY: deps infra-up infra-down up down test lint schemas

# Where ensure-uv.sh installs uv on a fresh machine.
export PATH := $(HOME)/.local/bin:$(PATH)

deps:
	@infra/bin/ensure-uv.sh
	uv sync --frozen

infra-up: deps
	infra/bin/postgres.sh start
	infra/bin/kafka.sh fetch
	infra/bin/kafka.sh start

infra-down:
	infra/bin/kafka.sh stop
	infra/bin/postgres.sh stop

up: infra-up
	infra/bin/services.sh start
	uv run python -m tools.seed
	@echo "intake:   http://127.0.0.1:$${INTAKE_PORT:-8001}/docs"
	@echo "dispatch: http://127.0.0.1:$${DISPATCH_PORT:-8002}/docs"
	@echo "timeline: http://127.0.0.1:$${TIMELINE_PORT:-8003}/docs"

down:
	infra/bin/services.sh stop
	infra/bin/kafka.sh stop
	infra/bin/postgres.sh stop

test: infra-up
	uv run pytest $(PYTEST_ARGS)

lint:
	uv run ruff check . && uv run ruff format --check . && uv run mypy

schemas:
	uv run python -m contracts.generate
