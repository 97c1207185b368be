//! Lets the rustls connector (configured from the full `tls` block) carry gRPC over TLS.
//!
//! tonic refuses `https` endpoints unless its own, narrower TLS setup is used. The channel is
//! therefore given the `http` form of the address, with the real `https` origin for the
//! requests' `:scheme`, and this wrapper turns the scheme back to `https` before the connector
//! sees it, so the connection is made with TLS.

use http::Uri;
use http::uri::Scheme;
use std::task::{Context, Poll};
use tower_service::Service;

#[derive(Clone)]
pub(crate) struct ForceTls<C>(pub(crate) C);

impl<C: Service<Uri>> Service<Uri> for ForceTls<C> {
    type Response = C::Response;
    type Error = C::Error;
    type Future = C::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        self.0.call(with_scheme(uri, Scheme::HTTPS))
    }
}

/// The same address with another scheme.
pub(crate) fn with_scheme(uri: Uri, scheme: Scheme) -> Uri {
    let mut parts = uri.into_parts();
    parts.scheme = Some(scheme);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    Uri::from_parts(parts).expect("an absolute URI stays valid with another scheme")
}
