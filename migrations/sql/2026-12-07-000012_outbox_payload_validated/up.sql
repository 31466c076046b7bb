-- Whether the stored CloudEvent was checked against its JSON Schema by the writer. The API
-- validates every event before inserting it (payment_db::outbox::insert_event) and says so
-- here; the relay validates again only rows without the mark: rows written some other way, and
-- rows whose payload changed after the write (the trigger clears the mark on any such update).
-- Adding a column with a constant default rewrites nothing (PostgreSQL 11+); existing rows are
-- unmarked, so the relay validates them as before.
ALTER TABLE outbox_events ADD COLUMN payload_validated boolean NOT NULL DEFAULT false;

CREATE FUNCTION outbox_payload_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.payload_validated := false;
    RETURN NEW;
END $$;

CREATE TRIGGER outbox_payload_changed BEFORE UPDATE OF payload ON outbox_events
    FOR EACH ROW WHEN (NEW.payload IS DISTINCT FROM OLD.payload)
    EXECUTE FUNCTION outbox_payload_changed();
