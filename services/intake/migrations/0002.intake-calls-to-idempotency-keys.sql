-- depends: 0001.intake-calls 0002.common-idempotency-keys
-- Calls are keyed like every other write now (ADR 0006): the call id in scope 'call', the request
-- as first posted, and the answer it got (the work order and its CallEnded event), so a retry of
-- a call taken before this migration is still answered the same way. The answer is rebuilt from
-- the stored event exactly as the API first spelled it.
INSERT INTO idempotency_keys (scope, key, request, answer, created_at)
SELECT 'call',
       c.call_id,
       c.request,
       jsonb_build_object(
           'work_order_id', c.work_order_id,
           'event_id', e.event_id,
           'event_type', e.event_type,
           'occurred_at', e.body -> 'occurred_at',
           'recorded_at', e.body -> 'recorded_at'
       ),
       e.recorded_at
FROM calls c
JOIN events e USING (event_id);

DROP TABLE calls;
