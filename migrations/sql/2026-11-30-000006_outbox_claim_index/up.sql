-- The relay claims pending rows in sequence order. Walking the primary key made every claim
-- skip all rows published so far (quadratic drains: 2,746 events/s over a 200,000-event backlog);
-- this index holds only pending rows, so a claim reads about as many rows as it takes.
DROP INDEX outbox_events_pending_idx;
CREATE INDEX outbox_events_pending_sequence_idx ON outbox_events (sequence) WHERE status = 'pending';
