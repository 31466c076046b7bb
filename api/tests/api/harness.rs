//! `TestApp`: a migrated database of its own, a merchant with a key, the server on port 0,
//! and typed clients for REST and gRPC.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use payment_api::server::{self, ServerConfig};
use payment_proto::v1 as pb;
use payment_proto::v1::payment_service_client::PaymentServiceClient;
use secrecy::ExposeSecret;
use serde_json::Value;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use uuid::Uuid;

/// Body limit the test servers use, small enough for size tests to reach with valid fields.
pub const TEST_BODY_LIMIT: usize = 16 * 1024;

pub use payment_db::testing::fresh_database;

/// The origin test servers allow for CORS.
pub const ALLOWED_ORIGIN: &str = "http://shop.example:3000";

/// Options of a test server.
#[derive(Debug, Clone)]
pub struct Options {
    pub pool_size: usize,
    pub body_limit: usize,
    pub database_timeout: Duration,
    /// Default budgets (none: unlimited unless a merchant's override says otherwise).
    pub rate_limits: payment_api::rate_limit::RateLimits,
    /// Budgets in Redis instead of in process.
    pub redis: Option<payment_api::rate_limit::RedisSettings>,
    /// Serve through connections over `sslmode=verify-full` (see [`verify_full_url`]), whatever
    /// `TEST_DATABASE_ROUTE` says.
    pub tls: bool,
    /// What each transaction of the server sets (`serve`'s defaults unless a test changes them).
    pub transaction: payment_db::TransactionSettings,
    /// API-key cache and per-client lookup limit (`serve`'s defaults).
    pub auth: payment_api::auth::AuthSettings,
    /// `IDEMPOTENCY_KEY_TTL` (24 h, `serve`'s default).
    pub idempotency_key_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pool_size: 8,
            body_limit: TEST_BODY_LIMIT,
            database_timeout: Duration::from_millis(1500),
            rate_limits: payment_api::rate_limit::RateLimits::default(),
            redis: None,
            tls: false,
            transaction: payment_db::TransactionSettings {
                statement_timeout: Some(Duration::from_secs(5)),
                lock_timeout: Some(Duration::from_secs(2)),
                idle_timeout: Some(Duration::from_secs(5)),
                asynchronous_commit: false,
            },
            auth: payment_api::auth::AuthSettings::default(),
            idempotency_key_ttl: server::DEFAULT_IDEMPOTENCY_KEY_TTL,
        }
    }
}

pub struct TestApp {
    pub database: String,
    pub database_url: String,
    pub base_url: String,
    pub merchant_id: Uuid,
    pub api_key: String,
    pub http: reqwest::Client,
    pub grpc: PaymentServiceClient<Channel>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let (database, database_url) = fresh_database().await;
        payment_db::migrations::run_pending(&database_url, payment_db::PoolMode::Session)
            .await
            .unwrap();
        let mut conn = AsyncPgConnection::establish(&database_url).await.unwrap();
        let created = payment_api::admin::create_merchant(&mut conn, "Test merchant")
            .await
            .unwrap();
        let api_key = created.api_key.expose_secret().to_owned();
        Self::serve(
            database,
            database_url,
            created.merchant_id,
            api_key,
            &options,
        )
        .await
    }

    /// Another API instance (its own server, pool and limiter) on this one's database, for the
    /// same merchant and key.
    pub async fn another_instance(&self, options: &Options) -> Self {
        Self::serve(
            self.database.clone(),
            self.database_url.clone(),
            self.merchant_id,
            self.api_key.clone(),
            options,
        )
        .await
    }

    async fn serve(
        database: String,
        database_url: String,
        merchant_id: Uuid,
        api_key: String,
        options: &Options,
    ) -> Self {
        let (pool_url, mode) = if options.tls {
            (
                verify_full_url(&database_url).await,
                payment_db::PoolMode::Session,
            )
        } else {
            payment_db::testing::service_url(&database_url).await
        };
        let pool = payment_db::pool::build_pool(
            &pool_url,
            mode,
            options.pool_size,
            options.database_timeout,
        )
        .unwrap();
        let db = payment_db::Database::new(pool, options.transaction.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = ServerConfig {
            body_limit: options.body_limit,
            cors_allowed_origins: vec![ALLOWED_ORIGIN.parse().unwrap()],
            health_interval: Duration::from_millis(100),
            rate_limits: options.rate_limits,
            redis: options.redis.clone(),
            auth: options.auth,
            trusted_proxies: payment_api::peer::TrustedProxies::default(),
            idempotency_key_ttl: options.idempotency_key_ttl,
        };
        let router = server::router(db, &config).unwrap();
        tokio::spawn(server::serve(listener, router, std::future::pending()));
        let base_url = format!("http://{address}");
        let channel = Channel::from_shared(base_url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            database,
            database_url,
            base_url,
            merchant_id,
            api_key,
            http: reqwest::Client::new(),
            grpc: PaymentServiceClient::new(channel).max_decoding_message_size(usize::MAX),
        }
    }

    /// A second merchant's key on the same server.
    pub async fn other_merchant_key(&self) -> String {
        let mut conn = self.db().await;
        let created = payment_api::admin::create_merchant(&mut conn, "Other merchant")
            .await
            .unwrap();
        created.api_key.expose_secret().to_owned()
    }

    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url)
            .await
            .unwrap()
    }

    /// Runs `payment-api admin ARGS` against this app's database.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_payment-api"))
            .arg("admin")
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap_or_else(|e| panic!("payment-api admin: {e}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends `authorize_body(10, "USD", "pm_card_visa")` every 200 ms, at most 50 times, as a
    /// client retrying through an outage would, until `done(status)`; that answer, or `None`.
    pub async fn authorize_until(&self, done: impl Fn(u16) -> bool) -> Option<reqwest::Response> {
        for _ in 0..50 {
            let answer = self
                .post(
                    "/v1/payments",
                    &authorize_body(10, "USD", "pm_card_visa"),
                    None,
                )
                .await;
            if done(answer.status().as_u16()) {
                return Some(answer);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    }

    /// `POST path` with JSON `body`, the merchant's key and an optional idempotency key.
    pub async fn post(&self, path: &str, body: &Value, key: Option<&str>) -> reqwest::Response {
        self.post_as(&self.api_key, path, body, key).await
    }

    pub async fn post_as(
        &self,
        api_key: &str,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(path))
            .bearer_auth(api_key)
            .json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .unwrap()
    }

    /// The status of `GET /v1/payments/{id}` sent with `key`.
    pub async fn get_status_as(&self, key: &str, id: &str) -> u16 {
        self.http
            .get(self.url(&format!("/v1/payments/{id}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A gRPC request with the merchant's key and an optional idempotency key.
    pub fn grpc_request<T>(&self, message: T, key: Option<&str>) -> tonic::Request<T> {
        grpc_request_as(&self.api_key, message, key)
    }

    pub fn grpc_gzip(&self) -> PaymentServiceClient<Channel> {
        self.grpc.clone().send_compressed(CompressionEncoding::Gzip)
    }

    /// REST authorize of `amount_minor` `currency` with `pm_card_visa`; returns the payment JSON.
    pub async fn authorize(&self, amount_minor: i64, currency: &str) -> Value {
        let response = self
            .post(
                "/v1/payments",
                &authorize_body(amount_minor, currency, "pm_card_visa"),
                None,
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    /// [`TestApp::authorize`], returning only the payment id.
    pub async fn authorized_id(&self, amount_minor: i64, currency: &str) -> String {
        self.authorize(amount_minor, currency).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST path` with the merchant's key, `Content-Type: application/json` and `body` as
    /// given (for bodies that are not a `Value`: truncated, oversized, hand-written).
    pub async fn post_raw_json(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.api_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        scalar(
            &mut self.db().await,
            &format!("SELECT count(*) AS value FROM {table}"),
        )
        .await
    }

    /// Number of rows of the tables a write touches: payments, ledger, outbox, idempotency.
    pub async fn footprint(&self) -> [i64; 4] {
        [
            self.count("payments").await,
            self.count("ledger_entries").await,
            self.count("outbox_events").await,
            self.count("idempotency_records").await,
        ]
    }

    /// Asserts the database state of a payment: its events are versions 1..=n in order, each
    /// valid against its schema, the ledger balances per transaction, and the row's version
    /// equals the number of events.
    pub async fn assert_consistent(&self, payment_id: &str) -> Vec<Value> {
        let id = Uuid::parse_str(payment_id).unwrap();
        let mut conn = self.db().await;
        let events: Vec<(i64, Value)> = payment_db::schema::outbox_events::table
            .filter(payment_db::schema::outbox_events::aggregate_id.eq(id))
            .order(payment_db::schema::outbox_events::sequence.asc())
            .select((
                payment_db::schema::outbox_events::aggregate_version,
                payment_db::schema::outbox_events::payload,
            ))
            .load(&mut conn)
            .await
            .unwrap();
        for (index, (version, payload)) in events.iter().enumerate() {
            assert_eq!(
                *version,
                index as i64 + 1,
                "versions go 1, 2, 3 … with no gaps"
            );
            payment_events::validate_event(payload).unwrap();
            assert_eq!(
                payload["sequence"],
                payment_events::format_sequence(*version)
            );
            assert_eq!(payload["subject"], payment_id);
        }
        let payment: Value = payment_db::schema::payments::table
            .find(id)
            .select(payment_db::schema::payments::version)
            .first::<i64>(&mut conn)
            .await
            .map(Value::from)
            .unwrap();
        assert_eq!(payment, Value::from(events.len() as i64));
        let unbalanced = scalar(
            &mut conn,
            &format!(
                "SELECT count(*) AS value FROM (SELECT transaction_id FROM ledger_entries WHERE payment_id = '{id}' \
                 GROUP BY transaction_id, currency \
                 HAVING sum(CASE direction WHEN 'debit' THEN amount_minor ELSE -amount_minor END) <> 0) t"
            ),
        )
        .await;
        assert_eq!(unbalanced, 0, "debits equal credits per transaction");
        events.into_iter().map(|(_, payload)| payload).collect()
    }
}

pub fn grpc_request_as<T>(api_key: &str, message: T, key: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let bearer: MetadataValue<_> = format!("Bearer {api_key}").parse().unwrap();
    request.metadata_mut().insert("authorization", bearer);
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("idempotency-key", key.parse().unwrap());
    }
    request
}

pub fn authorize_body(amount_minor: i64, currency: &str, payment_method: &str) -> Value {
    serde_json::json!({ "amount_minor": amount_minor, "currency": currency, "payment_method": payment_method })
}

pub fn authorize_message(
    amount_minor: i64,
    currency: &str,
    payment_method: &str,
) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        amount_minor,
        currency: currency.to_owned(),
        payment_method: payment_method.to_owned(),
        ..Default::default()
    }
}

#[derive(QueryableByName)]
struct Scalar {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

/// The JSON lines a successful command printed.
pub fn json_lines(output: &std::process::Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}")))
        .collect()
}

pub async fn scalar(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Scalar>(conn)
        .await
        .unwrap()
        .value
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

pub async fn texts(conn: &mut AsyncPgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<TextRow>(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.value)
        .collect()
}

/// The stable code of a gRPC error (the `google.rpc.ErrorInfo` reason).
pub fn grpc_code(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

/// Problem body of a REST error, after checking its media type.
pub async fn problem(response: reqwest::Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    response.json().await.unwrap()
}

pub use payment_db::testing::{server_certificate, verify_full_url};

/// A `MakeWriter` collecting log output in memory (install it as the global subscriber: nextest
/// runs each test in its own process).
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Installs a JSON log subscriber with `filter` writing here, as the process's global one.
    pub fn install(filter: &str) -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .init();
        captured
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
