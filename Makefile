# Local development entry points; the work is done by the scripts in infra/bin.
# Ports and URLs can be overridden through the environment (see infra/bin/*.sh).
.PHONY: deps infra-up infra-down up down test lint schemas replay-check bench bench-smoke

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

# Development tokens (one per role, seeded repair center and vehicle) go to .local/dev-tokens.json;
# the seed loads the reference data with its admin token.
up: infra-up
	infra/bin/services.sh start
	uv run python -m tools.tokens dev --out .local/dev-tokens.json
	uv run python -m tools.seed
	@echo "tokens:   .local/dev-tokens.json (uv run python -m tools.tokens list)"
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

# Rebuild the timeline's projection from offset 0 into a fresh schema and compare it with the
# live one (the running stack's database and broker, as infra/bin/services.sh gives them).
replay-check:
	uv run python -m tools.replay_check \
		--database-url "$${TIMELINE_DATABASE_URL:-postgresql://repair@127.0.0.1:$${PGPORT_LOCAL:-55432}/repair_timeline}" \
		--bootstrap-servers "$${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$${KAFKA_PORT:-19092}}" \
		--topic-prefix "$${TOPIC_PREFIX:-}"

# Every hot path beside its own ceiling, measured on this machine in one run, on a stack of the
# bench's own (fresh databases and topics on the local Kafka and PostgreSQL; never `make up`'s
# services). Prints the table with the issue's floors; writes bench/results/latest.json.
bench: infra-up
	uv run python -m bench $(BENCH_ARGS)

# The same at tiny sizes, in seconds: fails only when the harness itself is broken (CI).
bench-smoke: infra-up
	uv run python -m bench --smoke --no-progress $(BENCH_ARGS)
