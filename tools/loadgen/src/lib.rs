//! Cormorant's load generator: synthetic OTLP traces, metrics and logs over gRPC or HTTP,
//! cheap enough per request to share a small machine with the collector it measures.
//!
//! [`payload`] builds each request once and refreshes ids and timestamps in place,
//! [`schedule`] paces requests across workers, [`transport`] sends them and applies the OTLP
//! retry rules, [`run`] ties these together, and [`decode_bench`] measures the per-core
//! prost decode limit of the same payload. [`sink`] is the opposite end: an HTTP server that
//! discards what it receives, for benchmarks of HTTP exporters. [`remote_write`] sends
//! Alloy-shaped Prometheus remote_write 1.0 traffic to one or more receivers at once.

pub mod cli;
pub mod decode_bench;
pub mod payload;
pub mod remote_write;
pub mod run;
pub mod schedule;
pub mod sink;
pub mod transport;
