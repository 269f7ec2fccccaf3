-- depends: 0005.dispatch-routing-rules
-- Reference data is defined by events now (RepairCenterDefined, CrewDefined, VehicleDefined), the
-- tables their projection. A row defined before then has no event: it gets one definition event
-- (and its outbox row, so that it is published like any other), so that its history starts where
-- our knowledge of it starts. Honest about what it is: the definition the row holds, in force
-- since the row's updated_at (occurred_at), recorded by this migration (recorded_at), observed
-- by 'reference-data-migration'. What the row said before its last update was never kept.
--
-- Stream, correlation and Kafka key are spelled as services/dispatch/reference_data.py spells
-- them ('<kind>-<id>', md5 of the stream id, '<event type>:<id>'). A migration does not know the
-- service's TOPIC_PREFIX; the topic takes the prefix this database has published under (its
-- newest outbox row's), else none: a deployment runs without one, and a prefixed test stack
-- starts on fresh databases, where there is nothing to carry over.
CREATE TEMPORARY TABLE defined AS
SELECT gen_random_uuid()                                           AS event_id,
       'RepairCenterDefined'                                       AS event_type,
       'repair-center-' || repair_center_id                        AS stream_id,
       repair_center_id                                            AS defined_id,
       body || jsonb_build_object('repair_center_id', repair_center_id) AS payload,
       updated_at,
       1                                                           AS kind_order
FROM repair_centers
UNION ALL
SELECT gen_random_uuid(), 'CrewDefined', 'crew-' || crew_id, crew_id,
       body || jsonb_build_object('crew_id', crew_id), updated_at, 2
FROM crews
UNION ALL
SELECT gen_random_uuid(), 'VehicleDefined', 'vehicle-' || vehicle_id, vehicle_id,
       body || jsonb_build_object('vehicle_id', vehicle_id), updated_at, 3
FROM vehicles;

INSERT INTO events (stream_id, version, event_id, event_type, schema_version, work_order_id,
                    occurred_at, recorded_at, body)
SELECT d.stream_id, 1, d.event_id, d.event_type, 1, NULL, d.updated_at, now(),
       jsonb_build_object(
           'event_id', d.event_id,
           'event_type', d.event_type,
           'schema_version', 1,
           'occurred_at', to_char(d.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'recorded_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'source', 'reference-data-migration',
           'correlation_id', md5(d.stream_id)::uuid,
           'causation_id', NULL,
           'payload', d.payload
       )
FROM defined d
ORDER BY d.kind_order, d.defined_id;

INSERT INTO outbox (event_id, topic, key)
SELECT d.event_id, p.prefix || 'repair.reference-data.v1', d.event_type || ':' || d.defined_id
FROM defined d
CROSS JOIN (
    SELECT coalesce(
        (SELECT substring(topic FROM '^(.*)repair\.[a-z-]+\.v[0-9]+$')
         FROM outbox ORDER BY id DESC LIMIT 1),
        ''
    ) AS prefix
) p
ORDER BY d.kind_order, d.defined_id;

DROP TABLE defined;
