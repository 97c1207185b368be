//! What every network receiver needs, whatever protocol it speaks: a listener with TLS and
//! graceful shutdown ([`listener`]) kept across a receiver's start and shutdown
//! ([`receiver_listener`]), request bodies read under a size limit and decompressed
//! under it ([`body`]), and pipeline errors turned into gRPC and HTTP answers ([`status`]); and
//! for receivers that speak OTLP, the request decoding, pipeline hand-off and replies they share
//! ([`otlp_http`], [`otlp_ingest`], [`otlp_json`]).

pub mod body;
pub mod listener;
pub mod otlp_http;
pub mod otlp_ingest;
pub mod otlp_json;
pub mod receiver_listener;
pub mod status;

pub use body::{AcceptedEncodings, BodyError, ContentEncoding, decompress, read_limited};
pub use listener::{RunningServer, ServeOptions, bind, serve};
pub use receiver_listener::ReceiverListener;
pub use status::{ErrorReply, http_status_for};
