//! End-to-end tests of the `otlp` receiver with real clients over loopback.

mod common;
mod config;
mod grpc;
mod http;
mod json;
mod tls;
