//! Splitting a payload at an item boundary, for batch size caps (`send_batch_max_size`).

use crate::pdata::data_point_count;
use crate::pdata::logs::{ResourceLogs, ScopeLogs};
use crate::pdata::metrics::{Metric, ResourceMetrics, ScopeMetrics, metric::Data};
use crate::pdata::trace::{ResourceSpans, ScopeSpans};

/// Moves the first `max` spans out of `rs`.
pub(crate) fn split_spans(rs: &mut Vec<ResourceSpans>, max: usize) -> Vec<ResourceSpans> {
    split_resources(
        rs,
        max,
        |r| &mut r.scope_spans,
        |s| &mut s.spans,
        |s: &ScopeSpans| ScopeSpans {
            scope: s.scope.clone(),
            spans: Vec::new(),
            schema_url: s.schema_url.clone(),
        },
        |r: &ResourceSpans| ResourceSpans {
            resource: r.resource.clone(),
            scope_spans: Vec::new(),
            schema_url: r.schema_url.clone(),
        },
    )
}

/// Moves the first `max` log records out of `rl`.
pub(crate) fn split_logs(rl: &mut Vec<ResourceLogs>, max: usize) -> Vec<ResourceLogs> {
    split_resources(
        rl,
        max,
        |r| &mut r.scope_logs,
        |s| &mut s.log_records,
        |s: &ScopeLogs| ScopeLogs {
            scope: s.scope.clone(),
            log_records: Vec::new(),
            schema_url: s.schema_url.clone(),
        },
        |r: &ResourceLogs| ResourceLogs {
            resource: r.resource.clone(),
            scope_logs: Vec::new(),
            schema_url: r.schema_url.clone(),
        },
    )
}

/// Moves the first `max` data points out of `rm`, splitting inside a metric when needed.
pub(crate) fn split_metrics(rm: &mut Vec<ResourceMetrics>, max: usize) -> Vec<ResourceMetrics> {
    let mut out: Vec<ResourceMetrics> = Vec::new();
    let mut budget = max;
    while budget > 0 && !rm.is_empty() {
        let res = &mut rm[0];
        let mut taken = ResourceMetrics {
            resource: res.resource.clone(),
            scope_metrics: Vec::new(),
            schema_url: res.schema_url.clone(),
        };
        while budget > 0 && !res.scope_metrics.is_empty() {
            let scope = &mut res.scope_metrics[0];
            let mut taken_scope = ScopeMetrics {
                scope: scope.scope.clone(),
                metrics: Vec::new(),
                schema_url: scope.schema_url.clone(),
            };
            while budget > 0 && !scope.metrics.is_empty() {
                let points = data_point_count(scope.metrics[0].data.as_ref());
                if points <= budget {
                    budget -= points;
                    taken_scope.metrics.push(scope.metrics.remove(0));
                } else {
                    taken_scope
                        .metrics
                        .push(split_metric_points(&mut scope.metrics[0], budget));
                    budget = 0;
                }
            }
            if scope.metrics.is_empty() {
                res.scope_metrics.remove(0);
            }
            taken.scope_metrics.push(taken_scope);
        }
        if res.scope_metrics.is_empty() {
            rm.remove(0);
        }
        out.push(taken);
    }
    out
}

/// Moves the first `n` data points of `metric` into a new metric with the same identity.
fn split_metric_points(metric: &mut Metric, n: usize) -> Metric {
    let data = match metric.data.as_mut() {
        Some(Data::Gauge(g)) => {
            let mut head = g.clone_without_points();
            head.data_points = g.data_points.drain(..n).collect();
            Some(Data::Gauge(head))
        }
        Some(Data::Sum(s)) => {
            let mut head = s.clone_without_points();
            head.data_points = s.data_points.drain(..n).collect();
            Some(Data::Sum(head))
        }
        Some(Data::Histogram(h)) => {
            let mut head = h.clone_without_points();
            head.data_points = h.data_points.drain(..n).collect();
            Some(Data::Histogram(head))
        }
        Some(Data::ExponentialHistogram(h)) => {
            let mut head = h.clone_without_points();
            head.data_points = h.data_points.drain(..n).collect();
            Some(Data::ExponentialHistogram(head))
        }
        Some(Data::Summary(s)) => {
            let mut head = s.clone_without_points();
            head.data_points = s.data_points.drain(..n).collect();
            Some(Data::Summary(head))
        }
        None => None,
    };
    Metric {
        name: metric.name.clone(),
        description: metric.description.clone(),
        unit: metric.unit.clone(),
        metadata: metric.metadata.clone(),
        data,
    }
}

/// A metric's data header (temporality, monotonicity) without its points.
trait CloneWithoutPoints {
    fn clone_without_points(&self) -> Self;
}

impl CloneWithoutPoints for crate::pdata::metrics::Gauge {
    fn clone_without_points(&self) -> Self {
        Self {
            data_points: Vec::new(),
        }
    }
}
impl CloneWithoutPoints for crate::pdata::metrics::Sum {
    fn clone_without_points(&self) -> Self {
        Self {
            data_points: Vec::new(),
            aggregation_temporality: self.aggregation_temporality,
            is_monotonic: self.is_monotonic,
        }
    }
}
impl CloneWithoutPoints for crate::pdata::metrics::Histogram {
    fn clone_without_points(&self) -> Self {
        Self {
            data_points: Vec::new(),
            aggregation_temporality: self.aggregation_temporality,
        }
    }
}
impl CloneWithoutPoints for crate::pdata::metrics::ExponentialHistogram {
    fn clone_without_points(&self) -> Self {
        Self {
            data_points: Vec::new(),
            aggregation_temporality: self.aggregation_temporality,
        }
    }
}
impl CloneWithoutPoints for crate::pdata::metrics::Summary {
    fn clone_without_points(&self) -> Self {
        Self {
            data_points: Vec::new(),
        }
    }
}

/// Generic front-split for the span and log shapes (resource → scope → items).
fn split_resources<R, S, I>(
    resources: &mut Vec<R>,
    max: usize,
    scopes: impl Fn(&mut R) -> &mut Vec<S>,
    items: impl Fn(&mut S) -> &mut Vec<I>,
    empty_scope: impl Fn(&S) -> S,
    empty_resource: impl Fn(&R) -> R,
) -> Vec<R> {
    let mut out = Vec::new();
    let mut budget = max;
    while budget > 0 && !resources.is_empty() {
        let mut taken = empty_resource(&resources[0]);
        let res_scopes = scopes(&mut resources[0]);
        while budget > 0 && !res_scopes.is_empty() {
            let scope_items = items(&mut res_scopes[0]).len();
            if scope_items <= budget {
                budget -= scope_items;
                scopes(&mut taken).push(res_scopes.remove(0));
            } else {
                let mut head = empty_scope(&res_scopes[0]);
                *items(&mut head) = items(&mut res_scopes[0]).drain(..budget).collect();
                scopes(&mut taken).push(head);
                budget = 0;
            }
        }
        if scopes(&mut resources[0]).is_empty() {
            resources.remove(0);
        }
        out.push(taken);
    }
    out
}
