//! The filter's rules for one pipeline signal, and how they drop items.
//!
//! An item is dropped when any of its context's conditions is true, or, with the legacy rules,
//! when it is not selected by `include` / `exclude`. Dropping a span drops its events; a metric
//! whose data points are all dropped is dropped; scopes and resources left empty are removed, and
//! a payload left with nothing is not sent on.

use crate::config::{FilterConfig, LegacyMetricMatch};
use cormorant_attribute_rules::{AttributeSet, MatchProperties, Selection};
use cormorant_core::pdata::common::{InstrumentationScope, KeyValue};
use cormorant_core::pdata::logs::ResourceLogs;
use cormorant_core::pdata::metrics::{Metric, ResourceMetrics, metric::Data};
use cormorant_core::pdata::resource::Resource;
use cormorant_core::pdata::trace::ResourceSpans;
use cormorant_core::pdata::{Payload, data_point_count};
use cormorant_core::processorhelper::PayloadTransform;
use cormorant_core::{ConfigError, Signal};
use cormorant_ottl::{Condition, Context, Item, ItemKind, MetricShape, Point};

/// How items of one context are judged.
#[derive(Debug, Clone)]
enum ItemRule {
    /// Dropped when any condition holds.
    Conditions(Vec<Condition>),
    /// Kept when selected by the legacy `include` / `exclude`.
    Legacy(Box<Selection>),
}

/// Legacy metric rules: resource attributes keep or drop whole resources, names keep or drop
/// metrics.
#[derive(Debug, Clone)]
struct LegacyMetrics {
    names: Selection,
    include_resources: Option<AttributeSet>,
    exclude_resources: Option<AttributeSet>,
}

#[derive(Debug, Clone, Default)]
pub struct FilterRules {
    spans: Option<ItemRule>,
    span_events: Vec<Condition>,
    metrics: Vec<Condition>,
    legacy_metrics: Option<LegacyMetrics>,
    data_points: Vec<Condition>,
    logs: Option<ItemRule>,
}

/// Compiles `texts` for `context`, naming the setting in errors.
fn conditions(texts: &[String], context: Context, setting: &str) -> Result<Vec<Condition>, String> {
    texts
        .iter()
        .map(|text| Condition::compile(text, context).map_err(|err| format!("{setting}: {err}")))
        .collect()
}

/// Splits context-inferred conditions between `default` and `alternative`.
fn inferred(
    texts: &[String],
    default: Context,
    alternative: Context,
    setting: &str,
) -> Result<(Vec<Condition>, Vec<Condition>), String> {
    let mut split = (Vec::new(), Vec::new());
    for text in texts {
        let (context, condition) = Condition::compile_inferred(text, default, alternative)
            .map_err(|err| format!("{setting}: {err}"))?;
        if context == default {
            split.0.push(condition);
        } else {
            split.1.push(condition);
        }
    }
    Ok(split)
}

fn legacy_metrics(
    include: Option<&LegacyMetricMatch>,
    exclude: Option<&LegacyMetricMatch>,
) -> Result<LegacyMetrics, String> {
    let names_of = |block: &LegacyMetricMatch, name: &str| -> Result<MatchProperties, String> {
        if block.match_type == "expr" || !block.expressions.is_empty() {
            return Err(format!(
                "metrics.{name}: expr expressions are not supported; write them as OTTL \
                 conditions under metrics.datapoint"
            ));
        }
        Ok(MatchProperties {
            match_type: block.match_type.clone(),
            metric_names: block.metric_names.clone(),
            ..Default::default()
        })
    };
    let resources =
        |block: &LegacyMetricMatch, name: &str| -> Result<Option<AttributeSet>, String> {
            if block.resource_attributes.is_empty() {
                return Ok(None);
            }
            let what = format!("metrics.{name}.resource_attributes");
            AttributeSet::new(&block.match_type, &block.resource_attributes, &what).map(Some)
        };
    let include_names = include.map(|b| names_of(b, "include")).transpose()?;
    let exclude_names = exclude.map(|b| names_of(b, "exclude")).transpose()?;
    Ok(LegacyMetrics {
        names: Selection::new(
            include_names.as_ref(),
            exclude_names.as_ref(),
            Signal::Metrics,
        )
        .map_err(|err| format!("metrics.{err}"))?,
        include_resources: include
            .map(|b| resources(b, "include"))
            .transpose()?
            .flatten(),
        exclude_resources: exclude
            .map(|b| resources(b, "exclude"))
            .transpose()?
            .flatten(),
    })
}

impl FilterRules {
    /// The rules `config` sets for `signal`.
    pub fn new(config: &FilterConfig, signal: Signal) -> Result<FilterRules, ConfigError> {
        Self::compile(config, signal).map_err(ConfigError::Invalid)
    }

    fn compile(config: &FilterConfig, signal: Signal) -> Result<FilterRules, String> {
        let mut rules = FilterRules::default();
        match signal {
            Signal::Traces => {
                let (mut spans, mut events) = inferred(
                    &config.trace_conditions,
                    Context::Span,
                    Context::SpanEvent,
                    "trace_conditions",
                )?;
                spans.extend(conditions(
                    &config.traces.span,
                    Context::Span,
                    "traces.span",
                )?);
                events.extend(conditions(
                    &config.traces.spanevent,
                    Context::SpanEvent,
                    "traces.spanevent",
                )?);
                let legacy = &config.spans;
                let has_legacy = legacy.include.is_some() || legacy.exclude.is_some();
                if has_legacy && !(spans.is_empty() && events.is_empty()) {
                    return Err(
                        "cannot use OTTL conditions and spans.include/exclude at the \
                                same time"
                            .to_owned(),
                    );
                }
                rules.spans = if has_legacy {
                    let selection =
                        Selection::new(legacy.include.as_ref(), legacy.exclude.as_ref(), signal)
                            .map_err(|err| format!("spans.{err}"))?;
                    Some(ItemRule::Legacy(Box::new(selection)))
                } else {
                    (!spans.is_empty()).then_some(ItemRule::Conditions(spans))
                };
                rules.span_events = events;
            }
            Signal::Metrics => {
                let (mut metrics, mut points) = inferred(
                    &config.metric_conditions,
                    Context::Metric,
                    Context::DataPoint,
                    "metric_conditions",
                )?;
                metrics.extend(conditions(
                    &config.metrics.metric,
                    Context::Metric,
                    "metrics.metric",
                )?);
                points.extend(conditions(
                    &config.metrics.datapoint,
                    Context::DataPoint,
                    "metrics.datapoint",
                )?);
                let filters = &config.metrics;
                if filters.include.is_some() || filters.exclude.is_some() {
                    if !(metrics.is_empty() && points.is_empty()) {
                        return Err("cannot use OTTL conditions and metrics.include/exclude at \
                                    the same time"
                            .to_owned());
                    }
                    rules.legacy_metrics = Some(legacy_metrics(
                        filters.include.as_ref(),
                        filters.exclude.as_ref(),
                    )?);
                }
                rules.metrics = metrics;
                rules.data_points = points;
            }
            Signal::Logs => {
                let mut records =
                    conditions(&config.log_conditions, Context::Log, "log_conditions")?;
                records.extend(conditions(
                    &config.logs.log_record,
                    Context::Log,
                    "logs.log_record",
                )?);
                let filters = &config.logs;
                let include = filters.include.as_ref().map(|b| b.properties());
                let exclude = filters.exclude.as_ref().map(|b| b.properties());
                rules.logs = if include.is_some() || exclude.is_some() {
                    if !records.is_empty() {
                        return Err(
                            "cannot use OTTL conditions and logs.include/exclude at the \
                                    same time"
                                .to_owned(),
                        );
                    }
                    let selection = Selection::new(include.as_ref(), exclude.as_ref(), signal)
                        .map_err(|err| format!("logs.{err}"))?;
                    Some(ItemRule::Legacy(Box::new(selection)))
                } else {
                    (!records.is_empty()).then_some(ItemRule::Conditions(records))
                };
            }
        }
        Ok(rules)
    }
}

fn resource_attributes(resource: Option<&Resource>) -> &[KeyValue] {
    resource.map_or(&[], |r| &r.attributes)
}

/// The resource and scope around the items being judged.
struct Enclosing<'a> {
    resource: &'a [KeyValue],
    scope: Option<&'a InstrumentationScope>,
}

impl<'a> Enclosing<'a> {
    fn item<'b>(&self, kind: ItemKind<'b>) -> Item<'b>
    where
        'a: 'b,
    {
        Item {
            resource: self.resource,
            scope: self.scope,
            kind,
        }
    }
}

fn any(conditions: &[Condition], item: &Item<'_>) -> bool {
    conditions.iter().any(|condition| condition.matches(item))
}

/// Keeps the data points of `data` for which `keep` holds.
fn retain_points(data: &mut Option<Data>, mut keep: impl FnMut(Point<'_>) -> bool) {
    match data {
        Some(Data::Gauge(g)) => g.data_points.retain(|p| keep(Point::Number(p))),
        Some(Data::Sum(s)) => s.data_points.retain(|p| keep(Point::Number(p))),
        Some(Data::Histogram(h)) => h.data_points.retain(|p| keep(Point::Histogram(p))),
        Some(Data::ExponentialHistogram(h)) => {
            h.data_points.retain(|p| keep(Point::Exponential(p)))
        }
        Some(Data::Summary(s)) => s.data_points.retain(|p| keep(Point::Summary(p))),
        None => {}
    }
}

impl FilterRules {
    fn filter_traces(&self, resources: &mut Vec<ResourceSpans>) {
        if self.spans.is_none() && self.span_events.is_empty() {
            return;
        }
        for resource_spans in resources.iter_mut() {
            let resource = resource_attributes(resource_spans.resource.as_ref());
            for scope_spans in &mut resource_spans.scope_spans {
                let scope = scope_spans.scope.as_ref();
                let at = Enclosing { resource, scope };
                match &self.spans {
                    Some(ItemRule::Conditions(conditions)) => scope_spans
                        .spans
                        .retain(|span| !any(conditions, &at.item(ItemKind::Span(span)))),
                    Some(ItemRule::Legacy(selection)) => scope_spans
                        .spans
                        .retain(|span| selection.selects_span(resource, scope, span)),
                    None => {}
                }
                if self.span_events.is_empty() {
                    continue;
                }
                for span in &mut scope_spans.spans {
                    let mut events = std::mem::take(&mut span.events);
                    events.retain(|event| {
                        !any(
                            &self.span_events,
                            &at.item(ItemKind::SpanEvent(span, event)),
                        )
                    });
                    span.events = events;
                }
            }
            resource_spans.scope_spans.retain(|s| !s.spans.is_empty());
        }
        resources.retain(|r| !r.scope_spans.is_empty());
    }

    fn filter_metrics(&self, resources: &mut Vec<ResourceMetrics>) {
        let legacy = self.legacy_metrics.as_ref();
        if legacy.is_none() && self.metrics.is_empty() && self.data_points.is_empty() {
            return;
        }
        if let Some(legacy) = legacy {
            resources.retain(|r| {
                let attributes = resource_attributes(r.resource.as_ref());
                legacy
                    .include_resources
                    .as_ref()
                    .is_none_or(|set| set.matches(attributes))
                    && !legacy
                        .exclude_resources
                        .as_ref()
                        .is_some_and(|set| set.matches(attributes))
            });
        }
        for resource_metrics in resources.iter_mut() {
            let resource = resource_attributes(resource_metrics.resource.as_ref());
            for scope_metrics in &mut resource_metrics.scope_metrics {
                let scope = scope_metrics.scope.as_ref();
                let at = Enclosing { resource, scope };
                scope_metrics.metrics.retain(|metric| {
                    legacy.is_none_or(|legacy| legacy.names.selects_metric(metric))
                        && !any(&self.metrics, &at.item(ItemKind::Metric(metric)))
                });
                if self.data_points.is_empty() {
                    continue;
                }
                for metric in &mut scope_metrics.metrics {
                    self.filter_points(metric, &at);
                }
                scope_metrics
                    .metrics
                    .retain(|metric| data_point_count(metric.data.as_ref()) > 0);
            }
            resource_metrics
                .scope_metrics
                .retain(|s| !s.metrics.is_empty());
        }
        resources.retain(|r| !r.scope_metrics.is_empty());
    }

    /// Drops the data points of `metric` a data-point condition holds for. The data is taken out
    /// while its points are judged, so the points can be removed while the conditions read the
    /// rest of the metric.
    fn filter_points(&self, metric: &mut Metric, at: &Enclosing<'_>) {
        let shape = MetricShape::of(metric.data.as_ref());
        let mut data = metric.data.take();
        retain_points(&mut data, |point| {
            !any(
                &self.data_points,
                &at.item(ItemKind::DataPoint(metric, shape, point)),
            )
        });
        metric.data = data;
    }

    fn filter_logs(&self, resources: &mut Vec<ResourceLogs>) {
        let Some(rule) = &self.logs else {
            return;
        };
        for resource_logs in resources.iter_mut() {
            let resource = resource_attributes(resource_logs.resource.as_ref());
            for scope_logs in &mut resource_logs.scope_logs {
                let scope = scope_logs.scope.as_ref();
                let at = Enclosing { resource, scope };
                scope_logs.log_records.retain(|record| match rule {
                    ItemRule::Conditions(conditions) => {
                        !any(conditions, &at.item(ItemKind::Log(record)))
                    }
                    ItemRule::Legacy(selection) => selection.selects_log(resource, scope, record),
                });
            }
            resource_logs
                .scope_logs
                .retain(|s| !s.log_records.is_empty());
        }
        resources.retain(|r| !r.scope_logs.is_empty());
    }
}

impl PayloadTransform for FilterRules {
    fn transform(&self, payload: &mut Payload) {
        match payload {
            Payload::Traces(resources) => self.filter_traces(resources),
            Payload::Metrics(resources) => self.filter_metrics(resources),
            Payload::Logs(resources) => self.filter_logs(resources),
        }
    }
}
