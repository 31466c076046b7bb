-- Per-merchant rate-limit overrides, set with `payment-api admin set-rate-limit`. A NULL value
-- keeps the instance's default (RATE_LIMIT_WRITES_* / RATE_LIMIT_READS_*). The row is read with
-- every API-key lookup, so a change reaches every instance within AUTH_CACHE_TTL_MS.
CREATE TABLE merchant_rate_limits (
    merchant_id       uuid PRIMARY KEY REFERENCES merchants (id),
    writes_per_second integer CHECK (writes_per_second > 0),
    writes_burst      integer CHECK (writes_burst > 0),
    reads_per_second  integer CHECK (reads_per_second > 0),
    reads_burst       integer CHECK (reads_burst > 0),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
