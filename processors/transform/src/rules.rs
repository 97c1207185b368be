//! The transform's statement groups for one pipeline signal, and how they run.
//!
//! Groups run in the order written, each over every item of its context: the resource of each
//! batch, then (for a span group) every span, every span event, every metric, every data point or
//! every log record. A group with `conditions` edits only the items one of them holds for. Each
//! statement sees the item as the statements before it left it.

use crate::config::{StatementGroup, TransformConfig};
use cormorant_confmap::ConfValue;
use cormorant_core::pdata::Payload;
use cormorant_core::pdata::common::{InstrumentationScope, KeyValue};
use cormorant_core::pdata::logs::ResourceLogs;
use cormorant_core::pdata::metrics::{Metric, ResourceMetrics, metric::Data};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::ResourceSpans;
use cormorant_core::processorhelper::PayloadTransform;
use cormorant_core::{ConfigError, Signal};
use cormorant_ottl::{
    Condition, Context, Item, ItemKind, MetricShape, Point, Statement, check_error_mode,
};

#[derive(Debug, Clone)]
struct Group {
    context: Context,
    conditions: Vec<Condition>,
    statements: Vec<Statement>,
}

#[derive(Debug, Clone, Default)]
pub struct TransformRules {
    groups: Vec<Group>,
}

/// The contexts a signal's statements may use, least specific first.
fn contexts(signal: Signal) -> &'static [Context] {
    match signal {
        Signal::Traces => &[Context::Resource, Context::Span, Context::SpanEvent],
        Signal::Metrics => &[Context::Resource, Context::Metric, Context::DataPoint],
        Signal::Logs => &[Context::Resource, Context::Log],
    }
}

fn setting(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "trace_statements",
        Signal::Metrics => "metric_statements",
        Signal::Logs => "log_statements",
    }
}

fn group(entry: &ConfValue, signal: Signal) -> Result<Group, String> {
    let allowed = contexts(signal);
    match entry {
        ConfValue::String(text) => {
            let context = Statement::infer_context(text, allowed)?;
            Ok(Group {
                context,
                conditions: Vec::new(),
                statements: vec![Statement::compile(text, context)?],
            })
        }
        ConfValue::Map(_) => {
            let written: StatementGroup =
                cormorant_confmap::decode(entry).map_err(|err| err.to_string())?;
            check_error_mode(&written.error_mode)?;
            let context = allowed
                .iter()
                .copied()
                .find(|context| context.name() == written.context)
                .ok_or_else(|| {
                    let names: Vec<&str> = allowed.iter().map(|c| c.name()).collect();
                    format!(
                        "context {:?} is not one of {} here",
                        written.context,
                        names.join(", ")
                    )
                })?;
            Ok(Group {
                context,
                conditions: written
                    .conditions
                    .iter()
                    .map(|text| Condition::compile(text, context))
                    .collect::<Result<_, _>>()?,
                statements: written
                    .statements
                    .iter()
                    .map(|text| Statement::compile(text, context))
                    .collect::<Result<_, _>>()?,
            })
        }
        other => Err(format!(
            "each entry is a statement or a group with context and statements, not {}",
            other.kind()
        )),
    }
}

impl TransformRules {
    /// The groups `config` sets for `signal`.
    pub fn new(config: &TransformConfig, signal: Signal) -> Result<TransformRules, ConfigError> {
        let entries = match signal {
            Signal::Traces => &config.trace_statements,
            Signal::Metrics => &config.metric_statements,
            Signal::Logs => &config.log_statements,
        };
        let groups = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                group(entry, signal).map_err(|err| format!("{}[{index}]: {err}", setting(signal)))
            })
            .collect::<Result<_, _>>()
            .map_err(ConfigError::Invalid)?;
        Ok(TransformRules { groups })
    }
}

/// Runs `$group` on `$target` (a `&mut` item), whose read-only view the expression `$view`
/// builds from `$seen`, the item borrowed shared. A macro rather than a function taking a view
/// closure: the view also borrows the enclosing resource, scope and span for however long the
/// caller holds them, which a closure bound over every lifetime of the item cannot express.
macro_rules! run {
    ($group:expr, $target:expr, |$seen:ident| $view:expr) => {{
        let group: &Group = $group;
        let target = $target;
        let applies = group.conditions.is_empty() || {
            let $seen = &*target;
            let view = $view;
            group
                .conditions
                .iter()
                .any(|condition| condition.matches(&view))
        };
        if applies {
            for statement in &group.statements {
                let edit = {
                    let $seen = &*target;
                    statement.prepare(&$view)
                };
                if let Some(edit) = edit {
                    edit.apply(target);
                }
            }
        }
    }};
}

fn resource_attributes(resource: Option<&Resource>) -> &[KeyValue] {
    resource.map_or(&[], |r| &r.attributes)
}

/// Runs a resource-context group on a batch's resource, giving the batch one if it has none.
fn run_on_resource(group: &Group, resource: &mut Option<Resource>) {
    let resource = resource.get_or_insert_with(Resource::default);
    run!(group, &mut resource.attributes, |attributes| item(
        attributes,
        None,
        ItemKind::Resource
    ));
}

impl TransformRules {
    fn traces(&self, resources: &mut [ResourceSpans]) {
        for batch in resources {
            for group in &self.groups {
                if group.context == Context::Resource {
                    run_on_resource(group, &mut batch.resource);
                    continue;
                }
                let resource = resource_attributes(batch.resource.as_ref());
                for scope_spans in &mut batch.scope_spans {
                    let scope = scope_spans.scope.as_ref();
                    for span in &mut scope_spans.spans {
                        if group.context == Context::Span {
                            run!(group, span, |span| item(
                                resource,
                                scope,
                                ItemKind::Span(span)
                            ));
                            continue;
                        }
                        let mut events = std::mem::take(&mut span.events);
                        for event in &mut events {
                            run!(group, event, |event| item(
                                resource,
                                scope,
                                ItemKind::SpanEvent(span, event)
                            ));
                        }
                        span.events = events;
                    }
                }
            }
        }
    }

    fn metrics(&self, resources: &mut [ResourceMetrics]) {
        for batch in resources {
            for group in &self.groups {
                if group.context == Context::Resource {
                    run_on_resource(group, &mut batch.resource);
                    continue;
                }
                let resource = resource_attributes(batch.resource.as_ref());
                for scope_metrics in &mut batch.scope_metrics {
                    let scope = scope_metrics.scope.as_ref();
                    for metric in &mut scope_metrics.metrics {
                        if group.context == Context::Metric {
                            run!(group, metric, |m| item(
                                resource,
                                scope,
                                ItemKind::Metric(m)
                            ));
                        } else {
                            run_on_points(group, metric, resource, scope);
                        }
                    }
                }
            }
        }
    }

    fn logs(&self, resources: &mut [ResourceLogs]) {
        for batch in resources {
            for group in &self.groups {
                if group.context == Context::Resource {
                    run_on_resource(group, &mut batch.resource);
                    continue;
                }
                let resource = resource_attributes(batch.resource.as_ref());
                for scope_logs in &mut batch.scope_logs {
                    let scope = scope_logs.scope.as_ref();
                    for record in &mut scope_logs.log_records {
                        run!(group, record, |r| item(resource, scope, ItemKind::Log(r)));
                    }
                }
            }
        }
    }
}

fn item<'a>(
    resource: &'a [KeyValue],
    scope: Option<&'a InstrumentationScope>,
    kind: ItemKind<'a>,
) -> Item<'a> {
    Item {
        resource,
        scope,
        kind,
    }
}

/// Runs a data-point group on every point of `metric`. The data is taken out while its points
/// are edited, so statements can still read the rest of the metric.
fn run_on_points(
    group: &Group,
    metric: &mut Metric,
    resource: &[KeyValue],
    scope: Option<&InstrumentationScope>,
) {
    let shape = MetricShape::of(metric.data.as_ref());
    let mut data = metric.data.take();
    let view: &Metric = metric;
    macro_rules! points {
        ($points:expr, $variant:ident) => {
            for point in $points {
                run!(group, point, |p| item(
                    resource,
                    scope,
                    ItemKind::DataPoint(view, shape, Point::$variant(p))
                ));
            }
        };
    }
    match &mut data {
        Some(Data::Gauge(gauge)) => points!(&mut gauge.data_points, Number),
        Some(Data::Sum(sum)) => points!(&mut sum.data_points, Number),
        Some(Data::Histogram(histogram)) => points!(&mut histogram.data_points, Histogram),
        Some(Data::ExponentialHistogram(histogram)) => {
            points!(&mut histogram.data_points, Exponential)
        }
        Some(Data::Summary(summary)) => points!(&mut summary.data_points, Summary),
        None => {}
    }
    metric.data = data;
}

impl PayloadTransform for TransformRules {
    fn transform(&self, payload: &mut Payload) {
        if self.groups.is_empty() {
            return;
        }
        match payload {
            Payload::Traces(resources) => self.traces(resources),
            Payload::Metrics(resources) => self.metrics(resources),
            Payload::Logs(resources) => self.logs(resources),
        }
    }
}
