-- Payments and their double-entry ledger. Amounts are ISO 4217 minor units.
CREATE TABLE payments (
    id               uuid PRIMARY KEY,
    merchant_id      uuid NOT NULL REFERENCES merchants (id),
    status           text NOT NULL CHECK (status IN
                         ('authorized', 'declined', 'captured', 'voided', 'partially_refunded', 'refunded')),
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- The amount asked for at authorization.
    amount_minor     bigint NOT NULL CHECK (amount_minor > 0),
    authorized_minor bigint NOT NULL CHECK (authorized_minor >= 0),
    captured_minor   bigint NOT NULL CHECK (captured_minor >= 0 AND captured_minor <= authorized_minor),
    refunded_minor   bigint NOT NULL CHECK (refunded_minor >= 0 AND refunded_minor <= captured_minor),
    payment_method   text NOT NULL,
    description      text,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    decline_reason   text,
    -- 1 after authorization, +1 per write; equals the version of the write's outbox event.
    version          bigint NOT NULL CHECK (version >= 1),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- ListPayments: newest first per merchant (ids are UUIDv7, so id order is creation order).
CREATE INDEX payments_merchant_id_id_idx ON payments (merchant_id, id DESC);

CREATE TABLE ledger_entries (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Groups the entries of one write; equals that write's outbox event id.
    transaction_id uuid NOT NULL,
    payment_id     uuid NOT NULL REFERENCES payments (id),
    merchant_id    uuid NOT NULL REFERENCES merchants (id),
    account        text NOT NULL,
    direction      text NOT NULL CHECK (direction IN ('debit', 'credit')),
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    currency       text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    created_at     timestamptz NOT NULL
);

CREATE INDEX ledger_entries_payment_id_idx ON ledger_entries (payment_id);
CREATE INDEX ledger_entries_transaction_id_idx ON ledger_entries (transaction_id);

-- Entries are append-only.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only' USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

-- Debits equal credits per transaction and currency, checked at commit.
CREATE FUNCTION ledger_entries_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM ledger_entries
        WHERE transaction_id = NEW.transaction_id
        GROUP BY currency
        HAVING sum(CASE direction WHEN 'debit' THEN amount_minor ELSE -amount_minor END) <> 0
    ) THEN
        RAISE EXCEPTION 'ledger transaction % is not balanced', NEW.transaction_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_balanced();
