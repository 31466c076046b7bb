//! The address a request comes from, for the limit that applies before authentication
//! ([`crate::auth`]).
//!
//! The peer is the TCP client, or on AWS Lambda the source address API Gateway saw. When the
//! peer is one of the `TRUSTED_PROXIES`, the client is the right-most `X-Forwarded-For`
//! address that is not itself a trusted proxy (each proxy appends the address it received
//! from; only the entries our own proxies added can be believed). Without trusted proxies the
//! header is ignored: anyone can write it.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client address of a request (request extension), `None` when it cannot be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// Proxies whose `X-Forwarded-For` entries are believed (`TRUSTED_PROXIES`): addresses or
/// CIDR blocks, e.g. `10.0.0.0/8,192.0.2.7`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client of a request from `peer` with `headers`.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.contains(peer) {
            return Some(peer);
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|entry| entry.trim().parse::<IpAddr>())
            .collect::<Result<_, _>>()
            // A malformed list: only the peer is known.
            .unwrap_or_default();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|addr| !self.contains(*addr))
                .unwrap_or(peer),
        )
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Parses a comma-separated list of addresses and CIDR blocks; empty means none.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("`{entry}` is not an IP address or CIDR block (TRUSTED_PROXIES)")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The peer of a request: the TCP client (`ConnectInfo`), or on Lambda the source address of
/// the API Gateway request context.
fn peer(request: &Request) -> Option<IpAddr> {
    if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        return Some(addr.ip());
    }
    use lambda_http::RequestExt as _;
    match request.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => {
            context.http.source_ip.as_deref()?.parse().ok()
        }
        // The HTTP API (payload v2) is what the terraform module deploys.
        _ => None,
    }
}

/// Middleware: puts the request's [`ClientAddr`] in its extensions (REST handlers and gRPC
/// methods read it alike).
pub async fn record(
    State(trusted): State<std::sync::Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = trusted.client(peer(&request), request.headers());
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let none = TrustedProxies::default();
        let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.7".parse().unwrap();
        let peer = Some("10.1.2.3".parse().unwrap());
        let spoofed = headers(&["203.0.113.9, 198.51.100.4"]);
        // No trusted proxies: the header is anyone's to write.
        assert_eq!(none.client(peer, &spoofed), peer);
        // Behind ours: the right-most address our proxy did not add.
        assert_eq!(
            proxies.client(peer, &spoofed),
            Some("198.51.100.4".parse().unwrap())
        );
        assert_eq!(
            proxies.client(peer, &headers(&["198.51.100.4", "192.0.2.7"])),
            Some("198.51.100.4".parse().unwrap())
        );
        // A peer that is not a proxy of ours is the client, whatever it writes.
        let outsider = Some("198.51.100.77".parse().unwrap());
        assert_eq!(proxies.client(outsider, &spoofed), outsider);
        // A malformed list: only the peer is known.
        assert_eq!(proxies.client(peer, &headers(&["nonsense"])), peer);
        assert_eq!(proxies.client(None, &spoofed), None);
    }

    #[test]
    fn bad_entries_name_the_setting() {
        let error = "10.0.0.0/8,proxy.example"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert!(error.contains("proxy.example") && error.contains("TRUSTED_PROXIES"));
        assert_eq!("".parse::<TrustedProxies>(), Ok(TrustedProxies::default()));
    }
}
