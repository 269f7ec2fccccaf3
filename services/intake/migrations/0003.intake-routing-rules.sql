-- depends: 0002.intake-calls-to-idempotency-keys
-- Intake consumes the routing rules (RoutingRuleDefined) dispatch defines; an issue without a
-- repair center reads all of them, so they are found without scanning the other received events.
CREATE INDEX received_events_routing_rules ON received_events (recorded_at)
    WHERE event_type = 'RoutingRuleDefined';
