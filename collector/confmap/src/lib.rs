//! otelcol-compatible configuration: the value tree, typed decoding, config URIs (`file:`, `env:`,
//! `yaml:`, bare paths), merging of several `--config` sources and `--set` overrides, `${...}`
//! expansion, and YAML/JSON rendering with redaction for `print-config`.

mod decode;
mod error;
mod expand;
mod merge;
mod provider;
mod redact;
mod render;
mod resolve;
mod value;
mod value_de;
mod yaml;

pub use decode::{DecodeError, decode};
pub use error::{ConfError, ExpandError, MAX_CONFIG_URIS};
pub use expand::{MAX_EXPANSION_DEPTH, expand};
pub use merge::{KEY_DELIMITER, merge};
pub use provider::{EnvLookup, ProcessEnv};
pub use redact::{REDACTED, redact};
pub use render::{to_json_string, to_yaml_string};
pub use resolve::{Resolved, Resolver, resolve};
pub use value::ConfValue;
pub use yaml::parse_yaml;
