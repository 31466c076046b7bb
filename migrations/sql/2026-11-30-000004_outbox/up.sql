-- The transactional outbox: one row per payment write, drained to Kafka by relay-job.
CREATE TABLE outbox_events (
    -- Ever-increasing; commit order may differ (see relay-job's docs on late commits).
    sequence          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- CloudEvents id; consumers deduplicate on it.
    event_id          uuid NOT NULL UNIQUE,
    aggregate_type    text NOT NULL,
    -- The payment id: the Kafka key.
    aggregate_id      uuid NOT NULL,
    -- Per-payment version 1, 2, 3 … assigned in the business transaction.
    aggregate_version bigint NOT NULL CHECK (aggregate_version >= 1),
    event_type        text NOT NULL,
    -- The CloudEvent (structured JSON), validated against schemas/ before insert.
    payload           jsonb NOT NULL,
    -- Transport headers such as the W3C traceparent.
    headers           jsonb NOT NULL DEFAULT '{}'::jsonb,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'dead')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    published_at      timestamptz,
    UNIQUE (aggregate_id, aggregate_version)
);

-- The relay's claim: due pending rows in sequence order.
CREATE INDEX outbox_events_pending_idx ON outbox_events (next_attempt_at, sequence)
    WHERE status = 'pending';
-- "Is an earlier event of this payment still unpublished?" (per-payment order, parking).
CREATE INDEX outbox_events_unpublished_idx ON outbox_events (aggregate_id, aggregate_version)
    WHERE status <> 'published';
-- Retention purge of published rows.
CREATE INDEX outbox_events_published_at_idx ON outbox_events (published_at)
    WHERE status = 'published';
