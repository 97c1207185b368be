//! From `--config` URIs and `--set` overrides to one expanded configuration tree.

use crate::error::{ConfError, MAX_CONFIG_URIS};
use crate::expand::expand;
use crate::merge::{KEY_DELIMITER, merge, split_nested_keys};
use crate::provider::{
    EnvLookup, ProcessEnv, Scheme, SchemeLookup, is_valid_env_name, lookup_scheme, read_text_file,
    split_env_default, split_uri,
};
use crate::value::ConfValue;
use crate::yaml::parse_yaml_from;

/// The effective configuration and what was noticed while building it.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub value: ConfValue,
    /// Things an operator should see but that do not stop the collector, e.g. an unset variable.
    pub warnings: Vec<String>,
}

/// Loads, merges and expands configuration sources.
pub struct Resolver {
    env: Box<dyn EnvLookup>,
}

impl Default for Resolver {
    fn default() -> Self {
        Self::with_env(ProcessEnv)
    }
}

impl Resolver {
    /// A resolver reading the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// A resolver reading variables from `env`, for both `env:` URIs and `${...}` references.
    pub fn with_env(env: impl EnvLookup + 'static) -> Self {
        Resolver { env: Box::new(env) }
    }

    /// Merges every `uris` source in order, then every `--set` override, then expands references.
    pub fn resolve(&self, uris: &[String], sets: &[String]) -> Result<Resolved, ConfError> {
        if uris.is_empty() {
            return Err(ConfError::NoConfig);
        }
        if uris.len() > MAX_CONFIG_URIS {
            return Err(ConfError::TooManyUris { count: uris.len() });
        }
        let overrides = sets
            .iter()
            .map(|set| set_to_uri(set))
            .collect::<Result<Vec<_>, _>>()?;
        let mut value = ConfValue::empty_map();
        for uri in uris.iter().chain(&overrides) {
            merge(&mut value, self.load(uri)?);
        }
        let warnings = expand(&mut value, self.env.as_ref())?;
        Ok(Resolved { value, warnings })
    }

    /// Retrieves and parses one source. Its top level must be a map; only a `yaml:` fragment may be
    /// empty (an empty file or variable is almost always a mistake in a deployment).
    fn load(&self, uri: &str) -> Result<ConfValue, ConfError> {
        let (scheme, opaque) = split_uri(uri).unwrap_or(("file", uri));
        let (text, may_be_empty) = match lookup_scheme(scheme) {
            SchemeLookup::Supported(Scheme::File) => {
                let text = read_text_file(opaque).map_err(|reason| ConfError::ReadFile {
                    path: opaque.to_string(),
                    reason,
                })?;
                (text, false)
            }
            SchemeLookup::Supported(Scheme::Env) => (self.env_source(uri, opaque)?, false),
            SchemeLookup::Supported(Scheme::Yaml) => (opaque.to_string(), true),
            SchemeLookup::NotBuilt => {
                return Err(ConfError::ProviderNotBuilt {
                    scheme: scheme.to_string(),
                    uri: uri.to_string(),
                });
            }
            SchemeLookup::Unknown => {
                return Err(ConfError::UnsupportedScheme {
                    scheme: scheme.to_string(),
                    uri: uri.to_string(),
                });
            }
        };
        // Checked before parsing: YAML rejects some blank text (a tab), and the error should be
        // the same for every blank file.
        if text.trim().is_empty() && !may_be_empty {
            return Err(ConfError::EmptyFile {
                uri: uri.to_string(),
            });
        }
        match parse_yaml_from(&text, &format!("config {uri:?}"))? {
            ConfValue::Null if may_be_empty => Ok(ConfValue::empty_map()),
            ConfValue::Null => Err(ConfError::EmptyFile {
                uri: uri.to_string(),
            }),
            map @ ConfValue::Map(_) => Ok(split_nested_keys(map)),
            other => Err(ConfError::NotAMap {
                uri: uri.to_string(),
                kind: other.kind(),
            }),
        }
    }

    fn env_source(&self, uri: &str, opaque: &str) -> Result<String, ConfError> {
        let (name, default) = split_env_default(opaque);
        if !is_valid_env_name(name) {
            return Err(ConfError::InvalidConfigVariable {
                uri: uri.to_string(),
                name: name.to_string(),
            });
        }
        self.env
            .lookup(name)
            .or_else(|| default.map(str::to_string))
            .ok_or_else(|| ConfError::UnsetConfigVariable {
                uri: uri.to_string(),
                name: name.to_string(),
            })
    }
}

/// Resolves with the process environment; see [`Resolver::resolve`].
pub fn resolve(uris: &[String], sets: &[String]) -> Result<Resolved, ConfError> {
    Resolver::new().resolve(uris, sets)
}

/// `--set a.b=c` is the inline source `yaml:a::b: c`: dots in the key are nesting, and only the
/// first `=` separates key from value so values may contain `=`.
fn set_to_uri(set: &str) -> Result<String, ConfError> {
    let (key, value) = set
        .split_once('=')
        .ok_or_else(|| ConfError::SetMissingEqualSign {
            value: set.to_string(),
        })?;
    let key = key.trim().replace('.', KEY_DELIMITER);
    Ok(format!("yaml:{key}: {}", value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_becomes_a_yaml_fragment() {
        assert_eq!(
            set_to_uri("processors.batch.timeout=2s").unwrap(),
            "yaml:processors::batch::timeout: 2s"
        );
        assert_eq!(set_to_uri(" a.b = x=y ").unwrap(), "yaml:a::b: x=y");
        assert_eq!(
            set_to_uri("a.b").unwrap_err().to_string(),
            r#"invalid --set value "a.b": missing equal sign"#
        );
    }
}
