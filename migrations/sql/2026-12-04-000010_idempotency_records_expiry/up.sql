-- Idempotency records expire (IDEMPOTENCY_KEY_TTL, 24 h by default): an expired record no
-- longer answers replays and `payment-api admin purge-idempotency` deletes it in bounded
-- batches, oldest first. This index is what lets each batch find its rows without reading the
-- table; it is appended to in time order, so a write pays one right-most leaf insert.
CREATE INDEX idempotency_records_created_at ON idempotency_records (created_at);
