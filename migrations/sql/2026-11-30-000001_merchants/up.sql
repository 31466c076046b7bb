-- Merchants and their API keys. A key is shown once at creation; only its SHA-256 is stored.
CREATE TABLE merchants (
    id         uuid PRIMARY KEY,
    name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    merchant_id uuid NOT NULL REFERENCES merchants (id),
    -- SHA-256 of the whole key. Keys carry 256 random bits, so a fast hash is enough.
    key_hash   bytea NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    -- The non-secret start of the key, to recognise it in listings and logs.
    key_prefix text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE INDEX api_keys_merchant_id_idx ON api_keys (merchant_id);
