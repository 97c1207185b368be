//! The part of OTTL (the OpenTelemetry Transformation Language) that the `filter` and
//! `transform` processors run: boolean conditions over the paths of one context (comparisons,
//! `and` / `or` / `not`, enums, the type and match functions, converters such as `Concat`) and
//! editing statements
//! (`set`, `delete_key`, `keep_keys`, `replace_pattern`, ... with an optional `where`).
//! Everything is resolved when the processor is built, so an unknown path, enum, function or
//! editor stops the collector at start with the condition or statement quoted.

mod condition;
mod converters;
mod fields;
mod statement;
mod syntax;

pub use condition::Condition;
pub use fields::{Context, Item, ItemKind, MetricShape, Point};
pub use statement::{Edit, Editable, Statement};

/// Checks an `error_mode` setting. Statements and conditions here are checked when a processor
/// is built and cannot fail on data, so the three modes behave alike; they are accepted so that
/// otelcol configs load, and anything else is refused.
pub fn check_error_mode(mode: &str) -> Result<(), String> {
    if matches!(mode, "" | "ignore" | "silent" | "propagate") {
        Ok(())
    } else {
        Err(format!(
            "error_mode {mode:?} is not one of ignore, silent or propagate"
        ))
    }
}
