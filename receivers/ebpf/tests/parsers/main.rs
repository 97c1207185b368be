//! Parser tests over recorded-style byte streams: split and coalesced reads, pipelining,
//! chunked bodies, capture gaps, garbage, and property tests.

mod captures;
mod common;
mod dns;
mod http1;
mod properties;
mod redis;
