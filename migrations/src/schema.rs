// @generated automatically by Diesel CLI.

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        merchant_id -> Uuid,
        key_hash -> Bytea,
        key_prefix -> Text,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    idempotency_records (merchant_id, operation, idempotency_key) {
        merchant_id -> Uuid,
        operation -> Text,
        idempotency_key -> Text,
        request_hash -> Bytea,
        payment_id -> Uuid,
        response -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Int8,
        transaction_id -> Uuid,
        payment_id -> Uuid,
        merchant_id -> Uuid,
        account -> Text,
        direction -> Text,
        amount_minor -> Int8,
        currency -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    merchant_rate_limits (merchant_id) {
        merchant_id -> Uuid,
        writes_per_second -> Nullable<Int4>,
        writes_burst -> Nullable<Int4>,
        reads_per_second -> Nullable<Int4>,
        reads_burst -> Nullable<Int4>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    merchants (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_events (sequence) {
        sequence -> Int8,
        event_id -> Uuid,
        aggregate_type -> Text,
        aggregate_id -> Uuid,
        aggregate_version -> Int8,
        event_type -> Text,
        payload -> Jsonb,
        headers -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        first_failed_at -> Nullable<Timestamptz>,
        dead_at -> Nullable<Timestamptz>,
        payload_validated -> Bool,
    }
}

diesel::table! {
    outbox_pending (sequence) {
        sequence -> Int8,
        aggregate_id -> Uuid,
        aggregate_version -> Int8,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        dead -> Bool,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        merchant_id -> Uuid,
        status -> Text,
        currency -> Text,
        amount_minor -> Int8,
        authorized_minor -> Int8,
        captured_minor -> Int8,
        refunded_minor -> Int8,
        payment_method -> Text,
        description -> Nullable<Text>,
        metadata -> Jsonb,
        decline_reason -> Nullable<Text>,
        version -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(api_keys -> merchants (merchant_id));
diesel::joinable!(idempotency_records -> merchants (merchant_id));
diesel::joinable!(idempotency_records -> payments (payment_id));
diesel::joinable!(ledger_entries -> merchants (merchant_id));
diesel::joinable!(ledger_entries -> payments (payment_id));
diesel::joinable!(merchant_rate_limits -> merchants (merchant_id));
diesel::joinable!(payments -> merchants (merchant_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    idempotency_records,
    ledger_entries,
    merchant_rate_limits,
    merchants,
    outbox_events,
    outbox_pending,
    payments,
);
