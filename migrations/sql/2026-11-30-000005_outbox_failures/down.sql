ALTER TABLE outbox_events DROP COLUMN dead_at;
ALTER TABLE outbox_events DROP COLUMN first_failed_at;
