//! `${...}` expansion inside string values, with otelcol's escaping, defaults and typing rules.
//!
//! A reference is `${scheme:opaque}` or `${VAR}` (scheme `env`); `${VAR:-default}` is accepted too.
//! References are expanded innermost first and the result is scanned again, so a value may build
//! another reference (`${env:${env:WHICH}}`). A run of `$` in front of `${` escapes it when its
//! length is odd; after all expansion every `$$` becomes `$`.

use crate::error::{ConfError, ExpandError};
use crate::merge::{KEY_DELIMITER, split_nested_keys};
use crate::provider::{
    EnvLookup, Scheme, SchemeLookup, is_valid_env_name, lookup_scheme, read_text_file,
    split_env_default, split_uri,
};
use crate::value::ConfValue;
use crate::yaml::parse_yaml;
use indexmap::IndexMap;
use std::ops::Range;

/// How many rounds of re-expansion a value may go through before it is taken to be a cycle.
pub const MAX_EXPANSION_DEPTH: usize = 1000;

/// Expands every reference in the string values of `value` (keys are left as written) and returns
/// the warnings met on the way, one per distinct unset variable.
pub fn expand(value: &mut ConfValue, env: &dyn EnvLookup) -> Result<Vec<String>, ConfError> {
    let mut expander = Expander {
        env,
        warnings: Vec::new(),
        path: Vec::new(),
    };
    let mut expanded = expander.tree(std::mem::take(value))?;
    unescape_dollars(&mut expanded);
    *value = expanded;
    Ok(expander.warnings)
}

struct Expander<'a> {
    env: &'a dyn EnvLookup,
    warnings: Vec<String>,
    /// Keys from the root to the value being expanded, for error messages.
    path: Vec<String>,
}

/// A map or list whose children are being expanded.
///
/// The walk keeps these on a heap stack rather than recursing, because a self-referencing variable
/// (`M="a: ${env:M}"`) nests one level per round up to [`MAX_EXPANSION_DEPTH`], deeper than a thread
/// stack allows.
struct Frame {
    /// Expansion rounds that produced this node; its children start from here.
    depth: usize,
    children: Children,
}

enum Children {
    Map {
        done: IndexMap<String, ConfValue>,
        todo: indexmap::map::IntoIter<String, ConfValue>,
        /// Key of the child being expanded.
        current: String,
    },
    Seq {
        done: Vec<ConfValue>,
        todo: std::vec::IntoIter<ConfValue>,
    },
}

impl Frame {
    /// Takes the next child to expand, remembering its key.
    fn next_child(&mut self) -> Option<ConfValue> {
        match &mut self.children {
            Children::Map { todo, current, .. } => todo.next().map(|(key, value)| {
                *current = key;
                value
            }),
            Children::Seq { todo, .. } => todo.next(),
        }
    }

    /// Stores the expanded form of the child last taken.
    fn accept(&mut self, child: ConfValue) {
        match &mut self.children {
            Children::Map { done, current, .. } => {
                done.insert(std::mem::take(current), child);
            }
            Children::Seq { done, .. } => done.push(child),
        }
    }

    /// The child being expanded, as it appears in an error's key path.
    fn current_key(&self) -> String {
        match &self.children {
            Children::Map { current, .. } => current.clone(),
            Children::Seq { done, .. } => done.len().to_string(),
        }
    }

    fn finish(self) -> ConfValue {
        match self.children {
            Children::Map { done, .. } => ConfValue::Map(done),
            Children::Seq { done, .. } => ConfValue::Seq(done),
        }
    }
}

/// What one string expanded to.
enum Expanded {
    Text(String),
    /// A whole-value substitution that is a map or list, still to be expanded from `depth` on.
    Node {
        node: ConfValue,
        depth: usize,
    },
}

impl Expander<'_> {
    fn tree(&mut self, root: ConfValue) -> Result<ConfValue, ConfError> {
        let mut stack: Vec<Frame> = Vec::new();
        let (mut value, mut depth) = (root, 0);
        loop {
            let mut finished = match value {
                ConfValue::String(text) => {
                    self.path = stack.iter().map(Frame::current_key).collect();
                    match self.string(text, depth)? {
                        Expanded::Text(text) => Some(ConfValue::String(text)),
                        Expanded::Node { node, depth: level } => {
                            (value, depth) = (node, level);
                            continue;
                        }
                    }
                }
                ConfValue::Map(entries) => {
                    stack.push(Frame {
                        depth,
                        children: Children::Map {
                            done: IndexMap::with_capacity(entries.len()),
                            todo: entries.into_iter(),
                            current: String::new(),
                        },
                    });
                    None
                }
                ConfValue::Seq(items) => {
                    stack.push(Frame {
                        depth,
                        children: Children::Seq {
                            done: Vec::with_capacity(items.len()),
                            todo: items.into_iter(),
                        },
                    });
                    None
                }
                scalar => Some(scalar),
            };
            // Hand the finished value to its parent, closing every frame that is now complete,
            // until some frame has a child left to expand.
            (value, depth) = loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(finished.unwrap_or_default());
                };
                if let Some(child) = finished.take() {
                    top.accept(child);
                }
                if let Some(child) = top.next_child() {
                    break (child, top.depth);
                }
                finished = stack.pop().map(Frame::finish);
            };
        }
    }

    /// Expands one string, re-scanning the result until no reference is left.
    fn string(&mut self, mut text: String, depth: usize) -> Result<Expanded, ConfError> {
        for level in depth..MAX_EXPANSION_DEPTH {
            let Some(first) = next_reference(&text, 0) else {
                return Ok(Expanded::Text(text));
            };
            if first == (0..text.len()) {
                let substituted = self.reference(&text[2..text.len() - 1])?;
                match structured(&substituted) {
                    Some(node) => {
                        return Ok(Expanded::Node {
                            node,
                            depth: level + 1,
                        });
                    }
                    None => text = substituted,
                }
            } else {
                text = self.substitute_inline(&text, first)?;
            }
        }
        Err(self.error(ExpandError::TooManyRecursiveExpansions {
            limit: MAX_EXPANSION_DEPTH,
        }))
    }

    /// Replaces every reference of one scan of `text` with its text (string concatenation).
    fn substitute_inline(&mut self, text: &str, first: Range<usize>) -> Result<String, ConfError> {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut next = Some(first);
        while let Some(range) = next {
            out.push_str(&text[copied..range.start]);
            out.push_str(&self.reference(&text[range.start + 2..range.end - 1])?);
            copied = range.end;
            next = next_reference(text, copied);
        }
        out.push_str(&text[copied..]);
        Ok(out)
    }

    /// The text a reference (without `${` and `}`) stands for.
    fn reference(&mut self, inner: &str) -> Result<String, ConfError> {
        let (scheme, opaque) = split_reference(inner).map_err(|e| self.error(e))?;
        let uri = || format!("{scheme}:{opaque}");
        if opaque.contains('$') {
            return Err(self.error(ExpandError::DollarInUri { uri: uri() }));
        }
        match lookup_scheme(scheme) {
            SchemeLookup::Supported(Scheme::Env) => self.env_var(opaque),
            SchemeLookup::Supported(Scheme::File) => read_text_file(opaque).map_err(|reason| {
                self.error(ExpandError::ReadFile {
                    path: opaque.to_string(),
                    reason,
                })
            }),
            SchemeLookup::Supported(Scheme::Yaml) => Ok(opaque.to_string()),
            SchemeLookup::NotBuilt => Err(self.error(ExpandError::ProviderNotBuilt {
                scheme: scheme.to_string(),
                uri: uri(),
            })),
            SchemeLookup::Unknown => Err(self.error(ExpandError::UnsupportedScheme {
                scheme: scheme.to_string(),
                uri: uri(),
            })),
        }
    }

    fn env_var(&mut self, opaque: &str) -> Result<String, ConfError> {
        let (name, default) = split_env_default(opaque);
        if !is_valid_env_name(name) {
            return Err(self.error(ExpandError::InvalidEnvVarName {
                name: name.to_string(),
            }));
        }
        // As in otelcol, the default applies only to an unset variable, not to an empty one.
        match (self.env.lookup(name), default) {
            (Some(value), _) => Ok(value),
            (None, Some(default)) => Ok(default.to_string()),
            (None, None) => {
                let warning =
                    format!("Configuration references unset environment variable {name:?}");
                if !self.warnings.contains(&warning) {
                    self.warnings.push(warning);
                }
                Ok(String::new())
            }
        }
    }

    fn error(&self, error: ExpandError) -> ConfError {
        ConfError::Expand {
            key: self.path.join(KEY_DELIMITER),
            error,
        }
    }
}

/// Splits a reference into scheme and opaque part. No `:` means the default scheme `env`; so does
/// `VAR:-default` when `VAR` is not a provider's scheme.
fn split_reference(inner: &str) -> Result<(&str, &str), ExpandError> {
    match inner.split_once(':') {
        None => Ok(("env", inner)),
        Some((name, rest))
            if rest.starts_with('-')
                && is_valid_env_name(name)
                && matches!(lookup_scheme(name), SchemeLookup::Unknown) =>
        {
            Ok(("env", inner))
        }
        Some(_) => split_uri(inner).ok_or_else(|| ExpandError::InvalidUri {
            uri: inner.to_string(),
        }),
    }
}

/// Finds the first unescaped, innermost `${...}` at or after byte `from`: the first `}` closes the
/// nearest `${` before it. An odd run of `$` right before that `${` escapes it, and the scan goes on
/// after its `}`.
fn next_reference(text: &str, mut from: usize) -> Option<Range<usize>> {
    loop {
        let close = from + text[from..].find('}')?;
        if let Some(offset) = text[from..close].rfind("${") {
            let open = from + offset;
            let dollars_before = text[..open]
                .bytes()
                .rev()
                .take_while(|&b| b == b'$')
                .count();
            if dollars_before % 2 == 0 {
                return Some(open..close + 1);
            }
        }
        from = close + 1;
    }
}

/// A whole-value substitution that reads as a YAML map or list becomes that node; anything else
/// stays text, which the decoder converts to the target scalar type.
fn structured(text: &str) -> Option<ConfValue> {
    match parse_yaml(text) {
        Ok(node @ (ConfValue::Map(_) | ConfValue::Seq(_))) => Some(split_nested_keys(node)),
        _ => None,
    }
}

fn unescape_dollars(value: &mut ConfValue) {
    match value {
        ConfValue::String(text) if text.contains("$$") => *text = text.replace("$$", "$"),
        ConfValue::Seq(items) => items.iter_mut().for_each(unescape_dollars),
        ConfValue::Map(entries) => entries.values_mut().for_each(unescape_dollars),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_innermost_reference_first() {
        let text = "${env:${env:A}}";
        assert_eq!(next_reference(text, 0), Some(6..14));
    }

    #[test]
    fn odd_dollar_runs_escape_even_runs_do_not() {
        assert_eq!(next_reference("$${A}", 0), None);
        assert_eq!(next_reference("$$${A}", 0), Some(2..6));
        assert_eq!(next_reference("$$$${A}", 0), None);
        assert_eq!(next_reference("$${A} ${B}", 0), Some(6..10));
    }

    #[test]
    fn references_split_into_scheme_and_opaque() {
        assert_eq!(split_reference("HOST"), Ok(("env", "HOST")));
        assert_eq!(split_reference("HOST:-x"), Ok(("env", "HOST:-x")));
        assert_eq!(split_reference("env:HOST:-x"), Ok(("env", "HOST:-x")));
        assert_eq!(split_reference("file:/a:b"), Ok(("file", "/a:b")));
        assert_eq!(
            split_reference("1:x"),
            Err(ExpandError::InvalidUri { uri: "1:x".into() })
        );
    }
}
