//! Amazon MSK IAM authentication: SASL/OAUTHBEARER tokens signed with the function's IAM
//! credentials by `aws-msk-iam-sasl-signer`, handed to librdkafka whenever it asks for one.

use rdkafka::client::OAuthToken;

/// Signs MSK IAM tokens for one region.
#[derive(Debug, Clone)]
pub struct MskIamSigner {
    region: String,
    runtime: tokio::runtime::Handle,
}

impl MskIamSigner {
    /// A signer for `region` (e.g. from `AWS_REGION`) that runs the signing on `runtime`.
    pub fn new(region: String, runtime: tokio::runtime::Handle) -> Self {
        Self { region, runtime }
    }

    /// A fresh token. Called from librdkafka's own thread, never from a tokio worker, so it may
    /// block on the runtime.
    ///
    /// # Errors
    /// When credentials cannot be loaded or signing fails.
    pub fn token(&self) -> Result<OAuthToken, Box<dyn std::error::Error>> {
        let region = aws_types::region::Region::new(self.region.clone());
        let (token, expires_ms) = self
            .runtime
            .block_on(aws_msk_iam_sasl_signer::generate_auth_token(region))?;
        Ok(OAuthToken {
            token,
            principal_name: String::new(),
            lifetime_ms: expires_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn signs_a_token_from_static_credentials_without_the_network() {
        // nextest runs each test in its own process, so this environment is ours alone.
        #[expect(
            unsafe_code,
            reason = "setting credentials for this single-test process"
        )]
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
            std::env::set_var(
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            );
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        }
        let signer = MskIamSigner::new("eu-west-1".to_owned(), tokio::runtime::Handle::current());
        // librdkafka calls from its own thread, never from a runtime worker.
        let token = tokio::task::spawn_blocking(move || signer.token().map_err(|e| e.to_string()))
            .await
            .unwrap()
            .unwrap();
        assert!(token.lifetime_ms > chrono::Utc::now().timestamp_millis());
        let decoded = base64_url_decode(&token.token);
        assert!(
            decoded.starts_with(
                "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect"
            ),
            "{decoded}"
        );
        assert!(decoded.contains("X-Amz-Signature="));
    }

    fn base64_url_decode(text: &str) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }
}
