//! OTTL editing statements: `editor(args...) [where condition]`, compiled for one context and
//! applied to items.
//!
//! Editors: `set(target, value)`, `delete_key(map, key)`, `delete_matching_keys(map, pattern)`,
//! `keep_keys(map, [keys])`, `keep_matching_keys(map, pattern)`, `replace_pattern(target,
//! pattern, replacement)`, `replace_all_patterns(map, "key"|"value", pattern, replacement)`,
//! `truncate_all(map, limit)` and `limit(map, limit, [priority keys])`. A map is the item's
//! `attributes`; a target is one attribute or a field the context can set (a span's `name` and
//! `status.code`/`status.message`, a span event's `name`, a log record's `body`, `severity_text`
//! and `severity_number`, a metric's `name`, `description` and `unit`). Replacements take `$1`
//! or `${name}` for the pattern's groups. A value of the wrong type for its target, or `nil`,
//! leaves the target as it was, as OTTL's `ignore` error mode does.

use crate::condition::{Compiled, Operand, compile_expr, compile_value, eval, value};
use crate::fields::{Context, Field, Item, Val, resolve};
use crate::syntax::{Literal, PathText, StatementText, Value, check_arity, parse_statement};
use cormorant_core::pdata::common::{AnyValue, KeyValue, any_value};
use cormorant_core::pdata::logs::LogRecord;
use cormorant_core::pdata::metrics::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, SummaryDataPoint,
};
use cormorant_core::pdata::trace::span::Event;
use cormorant_core::pdata::trace::{Span, Status};
use regex::Regex;

/// A compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    editor: Editor,
    condition: Option<Compiled>,
}

/// What a statement can write to.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// An attribute of the edited item, with the field its current value is read through.
    Attribute {
        key: String,
        read: Field,
    },
    Field(Field),
}

#[derive(Debug, Clone)]
enum Editor {
    Set(Target, Operand),
    DeleteKey(String),
    DeleteMatchingKeys(Regex),
    KeepKeys(Vec<String>),
    KeepMatchingKeys(Regex),
    ReplacePattern(Target, Regex, String),
    ReplaceAllPatterns {
        keys: bool,
        pattern: Regex,
        replacement: String,
    },
    TruncateAll(usize),
    Limit(usize, Vec<String>),
}

/// Something a statement edits: the item's attribute map and the fields it can set.
pub trait Editable {
    fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>>;

    /// Sets `field` to `value` when the item has that field and the value fits it.
    fn set_field(&mut self, _field: &Field, _value: AnyValue) {}
}

impl Statement {
    /// Parses and compiles `text` for `context`; the error quotes the statement.
    pub fn compile(text: &str, context: Context) -> Result<Statement, String> {
        let parsed = parse_statement(text).map_err(|err| format!("statement {text:?}: {err}"))?;
        Statement::compile_parsed(&parsed, context)
            .map_err(|err| format!("statement {text:?}: {err}"))
    }

    /// The context a statement's prefixed paths name (`span.name` → span): the most specific of
    /// those in `candidates` (listed from least to most specific) that a path starts with. A
    /// statement whose paths name none cannot be placed, and is refused rather than guessed.
    pub fn infer_context(text: &str, candidates: &[Context]) -> Result<Context, String> {
        let parsed = parse_statement(text).map_err(|err| format!("statement {text:?}: {err}"))?;
        let names = parsed.leading_names();
        candidates
            .iter()
            .rev()
            .find(|context| names.contains(&context.name()))
            .copied()
            .ok_or_else(|| {
                let prefixes: Vec<String> = candidates
                    .iter()
                    .map(|c| format!("{}.", c.name()))
                    .collect();
                format!(
                    "statement {text:?}: no path names its context; prefix them ({}) or put the \
                     statement in a group with a context",
                    prefixes.join(", ")
                )
            })
    }

    fn compile_parsed(parsed: &StatementText, context: Context) -> Result<Statement, String> {
        let args = &parsed.args;
        let arity = |wanted: usize| check_arity(&parsed.editor, args, wanted);
        let map = || map_argument(&args[0], context);
        let text = |index: usize| string_literal(&args[index], index);
        let number = |index: usize| match &args[index] {
            Value::Literal(Literal::Int(number)) if *number >= 0 => Ok(*number as usize),
            _ => Err(format!(
                "argument {} must be a non-negative integer",
                index + 1
            )),
        };
        let pattern = |index: usize| {
            let pattern = text(index)?;
            Regex::new(&pattern)
                .map_err(|err| format!("invalid regular expression {pattern:?}: {err}"))
        };
        let keys = |index: usize| match &args[index] {
            Value::List(items) => items
                .iter()
                .enumerate()
                .map(|(at, item)| string_literal(item, at))
                .collect(),
            _ => Err(format!("argument {} must be a list of strings", index + 1)),
        };
        let editor = match parsed.editor.as_str() {
            "set" => {
                arity(2)?;
                Editor::Set(
                    target(&args[0], context)?,
                    compile_value(&args[1], context)?,
                )
            }
            "delete_key" => {
                arity(2)?;
                map()?;
                Editor::DeleteKey(text(1)?)
            }
            "delete_matching_keys" => {
                arity(2)?;
                map()?;
                Editor::DeleteMatchingKeys(pattern(1)?)
            }
            "keep_keys" => {
                arity(2)?;
                map()?;
                Editor::KeepKeys(keys(1)?)
            }
            "keep_matching_keys" => {
                arity(2)?;
                map()?;
                Editor::KeepMatchingKeys(pattern(1)?)
            }
            "replace_pattern" => {
                arity(3)?;
                Editor::ReplacePattern(
                    target(&args[0], context)?,
                    pattern(1)?,
                    replacement(&text(2)?),
                )
            }
            "replace_all_patterns" => {
                arity(4)?;
                map()?;
                let keys = match text(1)?.as_str() {
                    "key" => true,
                    "value" => false,
                    other => {
                        return Err(format!("mode must be \"key\" or \"value\", not {other:?}"));
                    }
                };
                Editor::ReplaceAllPatterns {
                    keys,
                    pattern: pattern(2)?,
                    replacement: replacement(&text(3)?),
                }
            }
            "truncate_all" => {
                arity(2)?;
                map()?;
                Editor::TruncateAll(number(1)?)
            }
            "limit" => {
                arity(3)?;
                map()?;
                Editor::Limit(number(1)?, keys(2)?)
            }
            other => {
                return Err(format!(
                    "editor {other} is not supported; supported: set, delete_key, \
                     delete_matching_keys, keep_keys, keep_matching_keys, replace_pattern, \
                     replace_all_patterns, truncate_all, limit"
                ));
            }
        };
        let condition = parsed
            .condition
            .as_ref()
            .map(|condition| compile_expr(condition, context))
            .transpose()?;
        Ok(Statement { editor, condition })
    }

    /// What the statement does to `item`, decided from a read-only view of it: `None` when its
    /// condition does not hold or there is nothing to write. The edit borrows only the
    /// statement, so the item can be borrowed mutably to [apply](Edit::apply) it.
    pub fn prepare(&self, item: &Item<'_>) -> Option<Edit<'_>> {
        if self
            .condition
            .as_ref()
            .is_some_and(|condition| !eval(condition, item))
        {
            return None;
        }
        match &self.editor {
            Editor::Set(to, from) => Some(Edit(Change::Write(to, owned(value(from, item))?))),
            Editor::ReplacePattern(to, pattern, replacement) => {
                let (Target::Attribute { read, .. } | Target::Field(read)) = to;
                let Val::Str(text) = read.read(item) else {
                    return None;
                };
                let replaced = pattern.replace_all(&text, replacement.as_str());
                (replaced != text).then(|| Edit(Change::Write(to, string(replaced.into_owned()))))
            }
            map_editor => Some(Edit(Change::Map(map_editor))),
        }
    }
}

/// A statement's decided change to one item.
pub struct Edit<'s>(Change<'s>);

enum Change<'s> {
    Write(&'s Target, AnyValue),
    Map(&'s Editor),
}

impl Edit<'_> {
    pub fn apply(self, target: &mut impl Editable) {
        match self.0 {
            Change::Write(to, new) => write(target, to, new),
            Change::Map(editor) => {
                if let Some(attributes) = target.attributes_mut() {
                    edit_map(editor, attributes);
                }
            }
        }
    }
}

fn edit_map(editor: &Editor, attributes: &mut Vec<KeyValue>) {
    match editor {
        Editor::DeleteKey(key) => attributes.retain(|kv| kv.key != *key),
        Editor::DeleteMatchingKeys(pattern) => attributes.retain(|kv| !pattern.is_match(&kv.key)),
        Editor::KeepKeys(keys) => attributes.retain(|kv| keys.contains(&kv.key)),
        Editor::KeepMatchingKeys(pattern) => attributes.retain(|kv| pattern.is_match(&kv.key)),
        Editor::ReplaceAllPatterns {
            keys,
            pattern,
            replacement,
        } => {
            for kv in attributes.iter_mut() {
                if *keys {
                    kv.key = pattern
                        .replace_all(&kv.key, replacement.as_str())
                        .into_owned();
                } else if let Some(any_value::Value::StringValue(text)) =
                    kv.value.as_mut().and_then(|v| v.value.as_mut())
                {
                    *text = pattern.replace_all(text, replacement.as_str()).into_owned();
                }
            }
        }
        Editor::TruncateAll(limit) => {
            for kv in attributes.iter_mut() {
                let text = match kv.value.as_mut().and_then(|v| v.value.as_mut()) {
                    Some(any_value::Value::StringValue(text)) => text,
                    _ => continue,
                };
                if let Some((cut, _)) = text.char_indices().nth(*limit) {
                    text.truncate(cut);
                }
            }
        }
        Editor::Limit(limit, priority) => {
            if attributes.len() > *limit {
                // Priority keys are kept first; the rest keep their order.
                attributes.sort_by_key(|kv| !priority.contains(&kv.key));
                attributes.truncate(*limit);
            }
        }
        Editor::Set(..) | Editor::ReplacePattern(..) => {}
    }
}

fn write(target: &mut impl Editable, to: &Target, new: AnyValue) {
    match to {
        Target::Attribute { key, .. } => {
            let Some(attributes) = target.attributes_mut() else {
                return;
            };
            match attributes.iter_mut().find(|kv| kv.key == *key) {
                Some(kv) => kv.value = Some(new),
                None => attributes.push(KeyValue {
                    key: key.clone(),
                    value: Some(new),
                    ..Default::default()
                }),
            }
        }
        Target::Field(field) => target.set_field(field, new),
    }
}

fn string(text: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    }
}

/// A value to store; `nil` stores nothing.
fn owned(value: Val<'_>) -> Option<AnyValue> {
    let inner = match value {
        Val::Nil => return None,
        Val::Str(text) => any_value::Value::StringValue(text.into_owned()),
        Val::Int(number) => any_value::Value::IntValue(number),
        Val::Float(number) => any_value::Value::DoubleValue(number),
        Val::Bool(flag) => any_value::Value::BoolValue(flag),
        Val::Other(any) => return Some(any.clone()),
    };
    Some(AnyValue { value: Some(inner) })
}

fn string_literal(value: &Value, index: usize) -> Result<String, String> {
    match value {
        Value::Literal(Literal::Str(text)) => Ok(text.clone()),
        _ => Err(format!("argument {} must be a string literal", index + 1)),
    }
}

/// OTTL writes group references as `$1` and `${name}`; the regex crate reads `${1}`, `$name`
/// and `${name}`, so bare numbers are braced to end where OTTL ends them.
fn replacement(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push_str("${");
            while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                out.push(digit);
            }
            out.push('}');
        } else {
            out.push(c);
        }
    }
    out
}

/// The item's own attribute map, the only map statements edit.
fn map_argument(value: &Value, context: Context) -> Result<(), String> {
    match value {
        Value::Path(path) if path.keys.is_empty() && own_attributes(path, context) => Ok(()),
        _ => Err(format!(
            "argument 1 must be the {} context's attributes",
            context.name()
        )),
    }
}

/// Whether `path` names the edited item's attributes (metrics have none).
fn own_attributes(path: &PathText, context: Context) -> bool {
    let names: Vec<&str> = path.names.iter().map(String::as_str).collect();
    context != Context::Metric
        && (matches!(names.as_slice(), ["attributes"]) || names == [context.name(), "attributes"])
}

fn target(value: &Value, context: Context) -> Result<Target, String> {
    let Value::Path(path) = value else {
        return Err("argument 1 must be a path to set".to_owned());
    };
    if own_attributes(path, context) {
        return match path.keys.as_slice() {
            [key] => Ok(Target::Attribute {
                key: key.clone(),
                // How the item's current value is read: the resource's own attributes in the
                // resource context, the span's, event's, record's or point's otherwise.
                read: if context == Context::Resource {
                    Field::ResourceAttribute(key.clone())
                } else {
                    Field::Attribute(key.clone())
                },
            }),
            _ => Err(format!("{path} needs one key, as in attributes[\"name\"]")),
        };
    }
    let field = resolve(path, context)?;
    let settable = matches!(
        (context, &field),
        (
            Context::Span,
            Field::SpanName | Field::StatusCode | Field::StatusMessage
        ) | (Context::SpanEvent, Field::EventName)
            | (
                Context::Log,
                Field::Body | Field::SeverityText | Field::SeverityNumber
            )
            | (
                Context::Metric,
                Field::MetricName | Field::MetricDescription | Field::MetricUnit
            )
    );
    if settable {
        Ok(Target::Field(field))
    } else {
        Err(format!(
            "{path} cannot be set in the {} context",
            context.name()
        ))
    }
}

fn text_of(value: &AnyValue) -> Option<String> {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => Some(text.clone()),
        _ => None,
    }
}

fn int_of(value: &AnyValue) -> Option<i32> {
    match &value.value {
        Some(any_value::Value::IntValue(number)) => i32::try_from(*number).ok(),
        _ => None,
    }
}

/// A resource's attributes, edited in the resource context.
impl Editable for Vec<KeyValue> {
    fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        Some(self)
    }
}

impl Editable for Span {
    fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        Some(&mut self.attributes)
    }

    fn set_field(&mut self, field: &Field, value: AnyValue) {
        match field {
            Field::SpanName => {
                if let Some(name) = text_of(&value) {
                    self.name = name;
                }
            }
            Field::StatusCode => {
                if let Some(code) = int_of(&value).filter(|code| (0..=2).contains(code)) {
                    self.status.get_or_insert_with(Status::default).code = code;
                }
            }
            Field::StatusMessage => {
                if let Some(message) = text_of(&value) {
                    self.status.get_or_insert_with(Status::default).message = message;
                }
            }
            _ => {}
        }
    }
}

impl Editable for Event {
    fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        Some(&mut self.attributes)
    }

    fn set_field(&mut self, field: &Field, value: AnyValue) {
        if let (Field::EventName, Some(name)) = (field, text_of(&value)) {
            self.name = name;
        }
    }
}

impl Editable for LogRecord {
    fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        Some(&mut self.attributes)
    }

    fn set_field(&mut self, field: &Field, value: AnyValue) {
        match field {
            Field::Body => self.body = Some(value),
            Field::SeverityText => {
                if let Some(text) = text_of(&value) {
                    self.severity_text = text;
                }
            }
            Field::SeverityNumber => {
                if let Some(number) = int_of(&value).filter(|n| (0..=24).contains(n)) {
                    self.severity_number = number;
                }
            }
            _ => {}
        }
    }
}

impl Editable for Metric {
    fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
        None
    }

    fn set_field(&mut self, field: &Field, value: AnyValue) {
        let Some(text) = text_of(&value) else {
            return;
        };
        match field {
            Field::MetricName => self.name = text,
            Field::MetricDescription => self.description = text,
            Field::MetricUnit => self.unit = text,
            _ => {}
        }
    }
}

/// Data points: only their attributes are edited.
macro_rules! editable_point {
    ($($point:ty),*) => {$(
        impl Editable for $point {
            fn attributes_mut(&mut self) -> Option<&mut Vec<KeyValue>> {
                Some(&mut self.attributes)
            }
        }
    )*};
}

editable_point!(
    NumberDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint,
    SummaryDataPoint
);

#[cfg(test)]
#[path = "statement_tests.rs"]
mod tests;
