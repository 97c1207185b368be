//! Errors of configuration resolution.
//!
//! Every message names the source (URI, file or key) and the cause, because the person reading it
//! is an operator looking at a command line and a YAML file, not at our code.

/// Maximum number of `--config` URIs, as in otelcol.
pub const MAX_CONFIG_URIS: usize = 100;

/// A configuration that could not be loaded, merged or expanded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfError {
    #[error("at least one config flag must be provided")]
    NoConfig,
    #[error("too many config URIs: {count} given, at most {MAX_CONFIG_URIS} are allowed")]
    TooManyUris { count: usize },
    #[error("invalid --set value {value:?}: missing equal sign")]
    SetMissingEqualSign { value: String },
    #[error("scheme {scheme:?} is not supported for uri {uri:?}")]
    UnsupportedScheme { scheme: String, uri: String },
    #[error("the {scheme:?} config provider is not supported in this build (uri {uri:?})")]
    ProviderNotBuilt { scheme: String, uri: String },
    #[error("cannot read config file {path:?}: {reason}")]
    ReadFile { path: String, reason: String },
    #[error(
        "cannot load config {uri:?}: environment variable {name:?} has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"
    )]
    InvalidConfigVariable { uri: String, name: String },
    #[error("cannot load config {uri:?}: environment variable {name:?} is not set")]
    UnsetConfigVariable { uri: String, name: String },
    #[error("cannot parse {origin}: {message}")]
    Yaml { origin: String, message: String },
    #[error("cannot load config {uri:?}: empty configuration file")]
    EmptyFile { uri: String },
    #[error("cannot load config {uri:?}: the top level must be a map, got {kind}")]
    NotAMap { uri: String, kind: &'static str },
    #[error("cannot expand {key:?}: {error}")]
    Expand {
        /// The `::`-joined path of the value being expanded.
        key: String,
        #[source]
        error: ExpandError,
    },
}

/// Why a `${...}` reference inside a value could not be expanded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpandError {
    #[error(
        "environment variable {name:?} has invalid name: must match regex ^[a-zA-Z_][a-zA-Z0-9_]*$"
    )]
    InvalidEnvVarName { name: String },
    #[error("invalid uri {uri:?}: the scheme must match [A-Za-z][A-Za-z0-9+.-]+")]
    InvalidUri { uri: String },
    #[error("the uri {uri:?} contains unsupported characters ('$')")]
    DollarInUri { uri: String },
    #[error("scheme {scheme:?} is not supported for uri {uri:?}")]
    UnsupportedScheme { scheme: String, uri: String },
    #[error("the {scheme:?} config provider is not supported in this build (uri {uri:?})")]
    ProviderNotBuilt { scheme: String, uri: String },
    #[error("cannot read file {path:?}: {reason}")]
    ReadFile { path: String, reason: String },
    #[error("too many recursive expansions (more than {limit})")]
    TooManyRecursiveExpansions { limit: usize },
}

/// An I/O error's text without Rust's ` (os error N)` suffix, which means nothing to an operator.
pub(crate) fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(idx) => text[..idx].to_string(),
        None => text,
    }
}
