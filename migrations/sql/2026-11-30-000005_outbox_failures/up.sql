-- When an event first failed to publish, for the provenance of its dead-letter record.
ALTER TABLE outbox_events ADD COLUMN first_failed_at timestamptz;
-- When it was dead-lettered.
ALTER TABLE outbox_events ADD COLUMN dead_at timestamptz;
