ALTER TABLE outbox_events RESET (fillfactor);
CREATE INDEX outbox_events_pending_sequence_idx ON outbox_events (sequence) WHERE status = 'pending';
CREATE INDEX outbox_events_unpublished_idx ON outbox_events (aggregate_id, aggregate_version)
    WHERE status <> 'published';
CREATE INDEX outbox_events_published_at_idx ON outbox_events (published_at)
    WHERE status = 'published';
DROP TRIGGER outbox_pending_emptied ON outbox_events;
DROP TRIGGER outbox_pending_removed ON outbox_events;
DROP TRIGGER outbox_pending_changed ON outbox_events;
DROP TRIGGER outbox_pending_added ON outbox_events;
DROP FUNCTION outbox_pending_emptied();
DROP FUNCTION outbox_pending_removed();
DROP FUNCTION outbox_pending_changed();
DROP FUNCTION outbox_pending_added();
DROP TABLE outbox_pending;
