-- depends: 0003.timeline-escalation-ladder
-- The day's report reads only indexes (issue 9: a storm day of 140,000 orders is a million
-- segment rows; sorting them by segment took 1.6 s). Each segment's rows of a period are one
-- range of the first index, already apart from the other segments; the breaches by party are
-- the second, which holds only breached rows; the orders by A and status are the third.
CREATE INDEX order_segments_by_segment ON order_segments (segment, a_at)
    INCLUDE (department, status, responsible, duration_s, ended);
CREATE INDEX order_segments_breached ON order_segments (a_at)
    INCLUDE (department, responsible) WHERE status = 'breached';
DROP INDEX order_segments_by_a;

CREATE INDEX order_projection_by_a_covering ON order_projection (a_at)
    INCLUDE (department, total_status);
DROP INDEX order_projection_by_a;
