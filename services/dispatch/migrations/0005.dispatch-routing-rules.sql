-- depends: 0004.dispatch-escalations
-- Routing rules (which repair center, department and trade an order goes to): the projection of
-- their RoutingRuleDefined events, kept in the transaction that records each definition.
CREATE TABLE routing_rules (
    rule_id          TEXT PRIMARY KEY,
    repair_center_id TEXT        NOT NULL REFERENCES repair_centers,
    body             JSONB       NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
