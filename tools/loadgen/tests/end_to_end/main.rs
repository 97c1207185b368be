//! End-to-end tests: the `cormorant-loadgen` binary against real OTLP servers on 127.0.0.1.

mod cli;
mod grpc;
mod http;
mod remote_write;
mod sink;
mod support;
mod tls;
