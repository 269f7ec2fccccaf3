"""The storm simulator: a synthetic city, a seeded plan of calls, order walks and position pings,
driven open-loop against the services over HTTP or written straight to Kafka.

``python -m simulator --help``. The plan is a pure function of its options and seed
(``simulator.plan.make_plan``); the drivers only carry it out.
"""
