DROP TRIGGER outbox_payload_changed ON outbox_events;
DROP FUNCTION outbox_payload_changed();
ALTER TABLE outbox_events DROP COLUMN payload_validated;
