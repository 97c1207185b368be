//! What otelcol's `attributes`, `resource` and legacy `filter` processors share: the attribute
//! action list (`insert`, `update`, `upsert`, `delete`, `hash`, `extract`, `convert`) and the
//! `include` / `exclude` match properties that pick which spans, log records and metrics a
//! processor touches.
//!
//! Both are compiled once from config, so every error (an unknown action, a bad regular
//! expression, a missing key) is reported when the collector starts, and the per-item work is
//! only comparisons and edits on the attribute list.

mod actions;
mod conf_value;
mod matching;
mod severity;
mod string_filter;

pub use actions::{ActionConfig, AttributeActions, sha256_hex};
pub use conf_value::any_value_from_conf;
pub use matching::{
    AttributeMatchConfig, AttributeSet, LibraryMatchConfig, MatchProperties, Selection,
};
pub use severity::{SeverityNumberConfig, severity_number};
