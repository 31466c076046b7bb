//! librdkafka's mock cluster (allowed by the house rules where a test needs what a real broker
//! cannot do on demand), with the one operation rdkafka's safe `MockCluster` lacks: errors
//! pushed onto ONE broker's request stack, so the partitions that broker leads refuse writes
//! while the others serve (case K16).
#![expect(
    unsafe_code,
    reason = "rdkafka has no safe wrapper for rd_kafka_mock_broker_push_request_error_rtts"
)]

use rdkafka::ClientConfig;
use rdkafka::bindings as rdsys;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// A mock cluster of `brokers` brokers, owned by a client of its own.
pub struct Cluster {
    owner: BaseProducer,
}

impl Cluster {
    pub fn new(brokers: i32) -> Self {
        let owner: BaseProducer = ClientConfig::new()
            .set("test.mock.num.brokers", brokers.to_string())
            .create()
            .unwrap();
        assert!(owner.client().mock_cluster().is_some(), "a mock cluster");
        Self { owner }
    }

    /// The safe API of the same cluster.
    pub fn mock(&self) -> MockCluster<'_, DefaultProducerContext> {
        self.owner.client().mock_cluster().unwrap()
    }

    pub fn bootstrap_servers(&self) -> String {
        self.mock().bootstrap_servers()
    }

    /// Makes broker `broker` answer its next `count` requests of `api` with `error`.
    pub fn push_broker_errors(
        &self,
        broker: i32,
        api: RDKafkaApiKey,
        error: RDKafkaRespErr,
        count: usize,
    ) {
        // SAFETY: the cluster belongs to `owner`, alive as long as `self`; the variadic
        // arguments are `count` pairs of (rd_kafka_resp_err_t, int rtt_ms), here one pair per
        // call.
        let code = unsafe {
            let cluster = rdsys::rd_kafka_handle_mock_cluster(self.owner.client().native_ptr());
            assert!(!cluster.is_null());
            let mut code = RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR;
            for _ in 0..count {
                code = rdsys::rd_kafka_mock_broker_push_request_error_rtts(
                    cluster,
                    broker,
                    api as i16,
                    1,
                    error,
                    0 as std::ffi::c_int,
                );
            }
            code
        };
        assert_eq!(code, RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}
