-- depends: 0001.dispatch-reference-data 0002.common-idempotency-keys
-- A GPS unit's report ids are keyed like every other write now (ADR 0006): scope
-- 'vehicle-report:<vehicle id>', the report as first posted, and the answer it got. The old table
-- kept only the answer, so the report is rebuilt from the answer and the event it recorded (type,
-- order, the unit's stamp, position, description): what a retry must repeat. A claim without an
-- answer never committed (claim and answer share one transaction), so none is carried over.
INSERT INTO idempotency_keys (scope, key, request, answer, created_at)
SELECT 'vehicle-report:' || d.vehicle_id,
       d.report_id,
       jsonb_strip_nulls(jsonb_build_object(
           'report_id', d.report_id,
           'type', d.answer -> 'type',
           'occurred_at', e.body -> 'occurred_at',
           'work_order_id', d.answer -> 'work_order_id',
           'position', e.body -> 'payload' -> 'position',
           'description', e.body -> 'payload' -> 'description'
       )),
       d.answer,
       d.received_at
FROM device_reports d
JOIN events e ON e.event_id = (d.answer ->> 'event_id')::uuid
WHERE d.answer IS NOT NULL;

DROP TABLE device_reports;
