//! otelcol-compatible configuration: the value tree, typed decoding, and (in `resolve`) config
//! URIs, `${...}` expansion, merging of several `--config` sources and `--set` overrides.

mod decode;
mod value;

pub use decode::{DecodeError, decode};
pub use value::ConfValue;
