//! The transformation: the compiled actions run on every selected span, log record and metric
//! data point.

use crate::config::AttributesConfig;
use cormorant_attribute_rules::{AttributeActions, Selection};
use cormorant_core::pdata::Payload;
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::metrics::{Metric, metric::Data};
use cormorant_core::processorhelper::PayloadTransform;
use cormorant_core::{ConfigError, Signal};

pub struct AttributesTransform {
    actions: AttributeActions,
    selection: Selection,
}

impl AttributesTransform {
    /// Compiles `config` for a pipeline of `signal`.
    pub fn new(config: &AttributesConfig, signal: Signal) -> Result<Self, ConfigError> {
        let compiled = AttributeActions::compile("actions", &config.actions).and_then(|actions| {
            let selection =
                Selection::new(config.include.as_ref(), config.exclude.as_ref(), signal)?;
            Ok(AttributesTransform { actions, selection })
        });
        compiled.map_err(ConfigError::Invalid)
    }
}

impl PayloadTransform for AttributesTransform {
    fn transform(&self, payload: &mut Payload) {
        let selection = &self.selection;
        match payload {
            Payload::Traces(resources) => {
                for resource_spans in resources {
                    let resource = resource_attributes(resource_spans.resource.as_ref());
                    for scope_spans in &mut resource_spans.scope_spans {
                        let scope = scope_spans.scope.as_ref();
                        for span in &mut scope_spans.spans {
                            if selection.selects_span(resource, scope, span) {
                                self.actions.apply(&mut span.attributes);
                            }
                        }
                    }
                }
            }
            Payload::Logs(resources) => {
                for resource_logs in resources {
                    let resource = resource_attributes(resource_logs.resource.as_ref());
                    for scope_logs in &mut resource_logs.scope_logs {
                        let scope = scope_logs.scope.as_ref();
                        for record in &mut scope_logs.log_records {
                            if selection.selects_log(resource, scope, record) {
                                self.actions.apply(&mut record.attributes);
                            }
                        }
                    }
                }
            }
            Payload::Metrics(resources) => {
                let metrics = resources
                    .iter_mut()
                    .flat_map(|r| &mut r.scope_metrics)
                    .flat_map(|s| &mut s.metrics);
                for metric in metrics.filter(|metric| selection.selects_metric(metric)) {
                    each_data_point(metric, |attributes| self.actions.apply(attributes));
                }
            }
        }
    }
}

fn resource_attributes(
    resource: Option<&cormorant_core::pdata::resource::Resource>,
) -> &[KeyValue] {
    resource.map_or(&[], |r| &r.attributes)
}

/// Calls `apply` on the attribute list of every data point of `metric`, whatever its type.
fn each_data_point(metric: &mut Metric, mut apply: impl FnMut(&mut Vec<KeyValue>)) {
    match metric.data.as_mut() {
        Some(Data::Gauge(gauge)) => gauge
            .data_points
            .iter_mut()
            .for_each(|p| apply(&mut p.attributes)),
        Some(Data::Sum(sum)) => sum
            .data_points
            .iter_mut()
            .for_each(|p| apply(&mut p.attributes)),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter_mut()
            .for_each(|p| apply(&mut p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter_mut()
            .for_each(|p| apply(&mut p.attributes)),
        Some(Data::Summary(s)) => s
            .data_points
            .iter_mut()
            .for_each(|p| apply(&mut p.attributes)),
        None => {}
    }
}
