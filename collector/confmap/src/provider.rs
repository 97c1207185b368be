//! What the config providers share between `--config` URIs and `${...}` references: URI scheme
//! syntax, env variable names and defaults, and reading files.

use crate::error::io_reason;

/// Schemes this build can retrieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Env,
    File,
    Yaml,
}

/// Outcome of looking up a URI's scheme.
pub(crate) enum SchemeLookup {
    Supported(Scheme),
    /// A core otelcol provider that this build deliberately leaves out (remote config over HTTP).
    NotBuilt,
    Unknown,
}

pub(crate) fn lookup_scheme(scheme: &str) -> SchemeLookup {
    match scheme {
        "env" => SchemeLookup::Supported(Scheme::Env),
        "file" => SchemeLookup::Supported(Scheme::File),
        "yaml" => SchemeLookup::Supported(Scheme::Yaml),
        "http" | "https" => SchemeLookup::NotBuilt,
        _ => SchemeLookup::Unknown,
    }
}

/// Splits `<scheme>:<opaque>` when the scheme matches `[A-Za-z][A-Za-z0-9+.-]+`. The scheme needs at
/// least two characters, so a Windows path such as `C:\otel.yaml` is not mistaken for a URI.
pub(crate) fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let (scheme, opaque) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    (first_ok && rest_ok && scheme.len() >= 2).then_some((scheme, opaque))
}

/// otelcol's env var name rule: `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub(crate) fn is_valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits an env provider's opaque part `NAME[:-default]`.
pub(crate) fn split_env_default(opaque: &str) -> (&str, Option<&str>) {
    match opaque.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (opaque, None),
    }
}

/// Reads a whole text file; the error is the operator-facing reason.
pub(crate) fn read_text_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| io_reason(&e))
}

/// Source of environment variables. Injectable so that tests (and embedders) need not mutate the
/// process environment, which is shared by every thread.
pub trait EnvLookup: Send + Sync {
    /// The variable's value, or `None` when it is unset.
    fn lookup(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String> + Send + Sync> EnvLookup for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The process environment. A value that is not valid Unicode is taken lossily rather than treated
/// as unset, so the operator sees the odd characters instead of a silent default.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvLookup for ProcessEnv {
    fn lookup(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_scheme_needs_two_characters() {
        assert_eq!(split_uri("file:a.yaml"), Some(("file", "a.yaml")));
        assert_eq!(split_uri("s3+x.y-z:b"), Some(("s3+x.y-z", "b")));
        assert_eq!(split_uri(r"C:\otel.yaml"), None);
        assert_eq!(split_uri("1x:a"), None);
        assert_eq!(split_uri("conf/otel.yaml"), None);
    }

    #[test]
    fn env_names_follow_otelcol_rule() {
        for ok in ["A", "_a", "HOST_1", "x9"] {
            assert!(is_valid_env_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A.B", "Ä"] {
            assert!(!is_valid_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn default_is_split_at_first_marker() {
        assert_eq!(split_env_default("A:-x:-y"), ("A", Some("x:-y")));
        assert_eq!(split_env_default("A:-"), ("A", Some("")));
        assert_eq!(split_env_default("A"), ("A", None));
    }
}
