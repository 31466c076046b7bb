DROP TRIGGER outbox_notify ON outbox_events;
DROP FUNCTION outbox_notify();
