-- depends: 0001.common-event-store
-- Network incidents are read by link and time for every timeline; orders by id.
CREATE INDEX received_events_incidents ON received_events (event_type, recorded_at)
    WHERE work_order_id IS NULL;
