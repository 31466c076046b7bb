-- Idempotency records, written in the same transaction as the write they answer, so a
-- failed or rejected request leaves the key free.
CREATE TABLE idempotency_records (
    merchant_id     uuid NOT NULL REFERENCES merchants (id),
    -- authorize, capture, void or refund.
    operation       text NOT NULL,
    idempotency_key text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the canonical request; a different request with the same key is refused.
    request_hash    bytea NOT NULL,
    payment_id      uuid NOT NULL REFERENCES payments (id),
    -- The original answer (a payment), replayed as is.
    response        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, operation, idempotency_key)
);
