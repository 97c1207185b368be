//! Who sent the data a pipeline is working on, for processors that read it (the `attributes`
//! processor's `from_context`).
//!
//! Receivers hand data to the pipeline inside [`within`], and the components of the chain read
//! it with [`current`] while they run in the same task. As in otelcol, where this travels in a
//! request's `context.Context`, it is there up to the first component that hands data to
//! another task: a processor after `batch` sees no client. The peer address is always recorded;
//! request headers only when the receiver's protocol has `include_metadata: true`.

use axum::extract::ConnectInfo;
use http::{Extensions, HeaderMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The sender of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub address: Option<IpAddr>,
    /// Request headers (gRPC metadata) by lower-case name, each with all its values.
    pub metadata: Vec<(String, Vec<String>)>,
}

impl ClientInfo {
    /// The client of a request from `peer`, with the headers when `include_metadata` is set.
    pub fn new(peer: Option<SocketAddr>, headers: &HeaderMap, include_metadata: bool) -> Self {
        let mut metadata: Vec<(String, Vec<String>)> = Vec::new();
        if include_metadata {
            for (name, value) in headers {
                let Ok(value) = value.to_str() else { continue };
                match metadata
                    .iter_mut()
                    .find(|(known, _)| known == name.as_str())
                {
                    Some((_, values)) => values.push(value.to_owned()),
                    None => metadata.push((name.as_str().to_owned(), vec![value.to_owned()])),
                }
            }
        }
        ClientInfo {
            address: peer.map(|peer| peer.ip()),
            metadata,
        }
    }

    /// The client of a request that reached a listener of [`crate::server`], which records the
    /// peer address in the request's extensions.
    pub fn of_request(
        extensions: &Extensions,
        headers: &HeaderMap,
        include_metadata: bool,
    ) -> Self {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        ClientInfo::new(peer, headers, include_metadata)
    }

    /// What `from_context: key` reads, as otelcol reads it: `client.address` is the peer's IP;
    /// `metadata.<name>` (or a bare `<name>`) the header's values joined with `;`; `auth.*` is
    /// nothing, there being no authenticators.
    pub fn value(&self, key: &str) -> Option<String> {
        if key == "client.address" {
            return self.address.map(|address| address.to_string());
        }
        if key.starts_with("auth.") {
            return None;
        }
        let name = key.strip_prefix("metadata.").unwrap_or(key);
        self.header(&name.to_ascii_lowercase())
    }

    /// The values of header `lower_name` (lower case, as stored) joined with `;`.
    pub fn header(&self, lower_name: &str) -> Option<String> {
        self.metadata
            .iter()
            .find(|(known, _)| known == lower_name)
            .map(|(_, values)| values.join(";"))
    }
}

tokio::task_local! {
    static CLIENT: Arc<ClientInfo>;
}

/// Runs `work` (a pipeline's handling of one request) with `client` as its [`current`] client.
pub async fn within<F: Future>(client: ClientInfo, work: F) -> F::Output {
    CLIENT.scope(Arc::new(client), work).await
}

/// The client of the request being handled, when called inside [`within`] on its task.
pub fn current() -> Option<Arc<ClientInfo>> {
    CLIENT.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.append("x-tenant", HeaderValue::from_static("acme"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        headers.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        headers
    }

    #[test]
    fn keys_read_as_otelcol_reads_them() {
        let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
        let client = ClientInfo::new(Some(peer), &headers(), true);
        assert_eq!(client.value("client.address").as_deref(), Some("192.0.2.7"));
        assert_eq!(client.value("metadata.X-Tenant").as_deref(), Some("acme"));
        assert_eq!(client.value("x-tenant").as_deref(), Some("acme"));
        assert_eq!(
            client.value("metadata.x-forwarded-for").as_deref(),
            Some("10.0.0.1;10.0.0.2")
        );
        assert_eq!(client.value("metadata.absent"), None);
        assert_eq!(client.value("auth.subject"), None);
    }

    #[test]
    fn headers_are_kept_only_with_include_metadata() {
        let client = ClientInfo::new(None, &headers(), false);
        assert!(client.metadata.is_empty());
        assert_eq!(client.value("client.address"), None);
    }

    #[tokio::test]
    async fn the_client_is_current_only_inside_its_scope() {
        assert_eq!(current(), None);
        let client = ClientInfo::new(None, &headers(), true);
        let seen = within(client.clone(), async { current() }).await;
        assert_eq!(seen.as_deref(), Some(&client));
        assert_eq!(current(), None);
    }
}
