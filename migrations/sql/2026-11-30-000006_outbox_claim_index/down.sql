DROP INDEX outbox_events_pending_sequence_idx;
CREATE INDEX outbox_events_pending_idx ON outbox_events (next_attempt_at, sequence) WHERE status = 'pending';
