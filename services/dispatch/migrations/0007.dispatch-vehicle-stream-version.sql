-- depends: 0006.dispatch-reference-data-history
-- A vehicle's stream version kept on its status row (issue 9): a report takes the next version
-- under the row's lock (``INSERT ... ON CONFLICT DO UPDATE`` waits for it), so that many posts
-- about one vehicle are written in turn, never lost to a race on ``events (stream_id, version)``,
-- and without reading the stream. The stream ``vehicle-<id>`` also holds the vehicle's
-- definitions (reference data), so the backfill takes every event of it. (A writer still takes
-- the stream's own maximum into account, so a row behind its stream only costs a retry.)
ALTER TABLE vehicle_status ADD COLUMN stream_version INTEGER NOT NULL DEFAULT 0;

INSERT INTO vehicle_status (vehicle_id, stream_version)
SELECT v.vehicle_id, max(e.version)
FROM vehicles v JOIN events e ON e.stream_id = 'vehicle-' || v.vehicle_id
GROUP BY v.vehicle_id
ON CONFLICT (vehicle_id) DO UPDATE SET stream_version = EXCLUDED.stream_version;
