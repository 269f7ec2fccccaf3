# Local development entry points; the work is done by the scripts in infra/bin.
# Ports and URLs can be overridden through the environment (see infra/bin/*.sh).
.PHONY: deps infra-up infra-down up down test lint schemas replay-check bench bench-smoke demo

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
		--database-url "$${TIMELINE_DATABASE_URL:-postgresql://repair@127.0.0.1:$${PGPORT_LOCAL:-25432}/repair_timeline}" \
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

# A stormy evening played from the simulator against the running stack (docs/demo.md): calls in
# a burst, crews driving, late crews, a network incident, a recall, an escalation. Starts the
# stack first when it is not up, with a shorter escalation ladder so the demo's escalation comes
# within a minute or so; a stack already up is used as it is (its own ladder: about 3 minutes).
DEMO_SPEED ?= 20
DEMO_ARGS ?= --speed $(DEMO_SPEED)
demo:
	@if infra/bin/services.sh status >/dev/null 2>&1; then \
		echo "[demo] the stack is up: playing on it as it runs"; \
	else \
		ESCALATION_NOT_RECEIVED_AFTER_S=$${ESCALATION_NOT_RECEIVED_AFTER_S:-90} \
		ESCALATION_NOT_TAKEN_AFTER_S=$${ESCALATION_NOT_TAKEN_AFTER_S:-90} \
		ESCALATION_LEVEL2_AFTER_S=$${ESCALATION_LEVEL2_AFTER_S:-60} \
		$(MAKE) --no-print-directory up; \
	fi
	uv run python -m simulator demo $(DEMO_ARGS)
