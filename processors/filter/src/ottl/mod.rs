//! The part of OTTL (the OpenTelemetry Transformation Language) that filter conditions use:
//! boolean expressions over the paths of one context, with comparisons, `and` / `or` / `not`,
//! enums and the type and match functions. Everything is resolved when the processor is built,
//! so an unknown path, enum or function stops the collector at start with the condition quoted.

mod condition;
mod fields;
mod syntax;

pub use condition::Condition;
pub use fields::{Context, Item, ItemKind, MetricShape, Point};
