//! Metric data points as rows of the five metrics tables (one per metric type), in contrib's
//! INSERT order. Every row repeats its resource, scope and metric fields, as contrib's do.

use super::attributes::write_attribute_map;
use super::traces::write_service_name;
use super::writer::RowBinaryWriter;
use super::{EncodedTable, Table};
use cormorant_core::pdata::common::KeyValue;
use cormorant_core::pdata::metrics::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, ResourceMetrics,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point,
};

/// The columns every metrics table starts with, followed by the type's own.
macro_rules! metric_columns {
    ($($own:literal),* $(,)?) => {
        &[
            "ResourceAttributes",
            "ResourceSchemaUrl",
            "ScopeName",
            "ScopeVersion",
            "ScopeAttributes",
            "ScopeDroppedAttrCount",
            "ScopeSchemaUrl",
            "ServiceName",
            "MetricName",
            "MetricDescription",
            "MetricUnit",
            "Attributes",
            "StartTimeUnix",
            "TimeUnix",
            $($own),*
        ]
    };
}

pub(crate) const GAUGE_COLUMNS: &[&str] = metric_columns!(
    "Value",
    "Flags",
    "Exemplars.FilteredAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
);

pub(crate) const SUM_COLUMNS: &[&str] = metric_columns!(
    "Value",
    "Flags",
    "Exemplars.FilteredAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
    "AggregationTemporality",
    "IsMonotonic",
);

pub(crate) const HISTOGRAM_COLUMNS: &[&str] = metric_columns!(
    "Count",
    "Sum",
    "BucketCounts",
    "ExplicitBounds",
    "Exemplars.FilteredAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
    "Flags",
    "Min",
    "Max",
    "AggregationTemporality",
);

pub(crate) const EXPONENTIAL_HISTOGRAM_COLUMNS: &[&str] = metric_columns!(
    "Count",
    "Sum",
    "Scale",
    "ZeroCount",
    "PositiveOffset",
    "PositiveBucketCounts",
    "NegativeOffset",
    "NegativeBucketCounts",
    "Exemplars.FilteredAttributes",
    "Exemplars.TimeUnix",
    "Exemplars.Value",
    "Exemplars.SpanId",
    "Exemplars.TraceId",
    "Flags",
    "Min",
    "Max",
    "AggregationTemporality",
);

pub(crate) const SUMMARY_COLUMNS: &[&str] = metric_columns!(
    "Count",
    "Sum",
    "ValueAtQuantiles.Quantile",
    "ValueAtQuantiles.Value",
    "Flags",
);

/// Rough size of a point with a few attributes, plus its repeated resource and scope.
const ESTIMATED_ROW_BYTES: usize = 512;

/// One output table being filled.
struct TableRows {
    writer: RowBinaryWriter,
    rows: usize,
}

impl TableRows {
    fn sized_for(rows: usize) -> Self {
        Self {
            writer: RowBinaryWriter::with_capacity(rows * ESTIMATED_ROW_BYTES),
            rows: 0,
        }
    }

    /// Starts a row: the resource, scope and metric columns shared by the metric's points.
    fn start_row(&mut self, metric_block: &[u8]) -> &mut RowBinaryWriter {
        self.rows += 1;
        self.writer.raw(metric_block);
        &mut self.writer
    }

    fn finish(self, table: Table, columns: &'static [&'static str]) -> Option<EncodedTable> {
        (self.rows > 0).then(|| EncodedTable {
            table,
            columns,
            rows: self.rows,
            items: self.rows,
            row_binary: self.writer.into_bytes(),
        })
    }
}

pub(crate) fn encode(resource_metrics: &[ResourceMetrics]) -> Vec<EncodedTable> {
    let mut points = [0usize; 5];
    for data in all_metric_data(resource_metrics) {
        let (kind, count) = match data {
            Data::Gauge(g) => (0, g.data_points.len()),
            Data::Sum(s) => (1, s.data_points.len()),
            Data::Histogram(h) => (2, h.data_points.len()),
            Data::ExponentialHistogram(h) => (3, h.data_points.len()),
            Data::Summary(s) => (4, s.data_points.len()),
        };
        points[kind] += count;
    }
    let [
        mut gauge,
        mut sum,
        mut histogram,
        mut exponential_histogram,
        mut summary,
    ] = points.map(TableRows::sized_for);

    let mut scratch = Vec::new();
    let mut resource_attributes_block = RowBinaryWriter::default();
    let mut service_name_block = RowBinaryWriter::default();
    let mut scope_block = RowBinaryWriter::default();
    let mut metric_block = RowBinaryWriter::default();
    for resource_metric in resource_metrics {
        let resource_attributes: &[KeyValue] = resource_metric
            .resource
            .as_ref()
            .map_or(&[], |r| &r.attributes);
        resource_attributes_block.clear();
        write_attribute_map(
            &mut resource_attributes_block,
            resource_attributes,
            &mut scratch,
        );
        service_name_block.clear();
        write_service_name(&mut service_name_block, resource_attributes, &mut scratch);

        for scope_metric in &resource_metric.scope_metrics {
            let scope = scope_metric.scope.as_ref();
            scope_block.clear();
            scope_block.raw(resource_attributes_block.as_bytes());
            scope_block.string(&resource_metric.schema_url);
            scope_block.string(scope.map_or("", |s| &s.name));
            scope_block.string(scope.map_or("", |s| &s.version));
            write_attribute_map(
                &mut scope_block,
                scope.map_or(&[], |s| &s.attributes),
                &mut scratch,
            );
            scope_block.u32(scope.map_or(0, |s| s.dropped_attributes_count));
            scope_block.string(&scope_metric.schema_url);
            scope_block.raw(service_name_block.as_bytes());

            for metric in &scope_metric.metrics {
                let Some(data) = &metric.data else { continue };
                metric_block.clear();
                metric_block.raw(scope_block.as_bytes());
                metric_block.string(&metric.name);
                metric_block.string(&metric.description);
                metric_block.string(&metric.unit);
                let block = metric_block.as_bytes();
                match data {
                    Data::Gauge(g) => {
                        for point in &g.data_points {
                            write_number_point(gauge.start_row(block), point, &mut scratch);
                        }
                    }
                    Data::Sum(s) => {
                        for point in &s.data_points {
                            let w = sum.start_row(block);
                            write_number_point(w, point, &mut scratch);
                            w.i32(s.aggregation_temporality);
                            w.bool(s.is_monotonic);
                        }
                    }
                    Data::Histogram(h) => {
                        for point in &h.data_points {
                            let w = histogram.start_row(block);
                            write_histogram_point(w, point, &mut scratch);
                            w.i32(h.aggregation_temporality);
                        }
                    }
                    Data::ExponentialHistogram(h) => {
                        for point in &h.data_points {
                            let w = exponential_histogram.start_row(block);
                            write_exponential_histogram_point(w, point, &mut scratch);
                            w.i32(h.aggregation_temporality);
                        }
                    }
                    Data::Summary(s) => {
                        for point in &s.data_points {
                            write_summary_point(summary.start_row(block), point, &mut scratch);
                        }
                    }
                }
            }
        }
    }

    [
        gauge.finish(Table::MetricsGauge, GAUGE_COLUMNS),
        sum.finish(Table::MetricsSum, SUM_COLUMNS),
        histogram.finish(Table::MetricsHistogram, HISTOGRAM_COLUMNS),
        exponential_histogram.finish(
            Table::MetricsExponentialHistogram,
            EXPONENTIAL_HISTOGRAM_COLUMNS,
        ),
        summary.finish(Table::MetricsSummary, SUMMARY_COLUMNS),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn all_metric_data(resource_metrics: &[ResourceMetrics]) -> impl Iterator<Item = &Data> {
    resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter_map(|m| m.data.as_ref())
}

/// `Attributes, StartTimeUnix, TimeUnix`: the point columns every table has.
fn write_point_start(
    w: &mut RowBinaryWriter,
    attributes: &[KeyValue],
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    scratch: &mut Vec<u8>,
) {
    write_attribute_map(w, attributes, scratch);
    w.datetime64_nanos(start_time_unix_nano);
    w.datetime64_nanos(time_unix_nano);
}

/// Gauge and sum points: `… Value, Flags, Exemplars.*`.
fn write_number_point(w: &mut RowBinaryWriter, point: &NumberDataPoint, scratch: &mut Vec<u8>) {
    write_point_start(
        w,
        &point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        scratch,
    );
    w.f64(match point.value {
        Some(number_data_point::Value::AsDouble(value)) => value,
        Some(number_data_point::Value::AsInt(value)) => value as f64,
        None => 0.0,
    });
    w.u32(point.flags);
    write_exemplars(w, &point.exemplars, scratch);
}

/// `… Count, Sum, BucketCounts, ExplicitBounds, Exemplars.*, Flags, Min, Max`; an absent sum,
/// min or max is 0, as otelcol's accessors return it.
fn write_histogram_point(
    w: &mut RowBinaryWriter,
    point: &HistogramDataPoint,
    scratch: &mut Vec<u8>,
) {
    write_point_start(
        w,
        &point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        scratch,
    );
    w.u64(point.count);
    w.f64(point.sum.unwrap_or(0.0));
    write_u64_array(w, &point.bucket_counts);
    w.var_uint(point.explicit_bounds.len() as u64);
    for bound in &point.explicit_bounds {
        w.f64(*bound);
    }
    write_exemplars(w, &point.exemplars, scratch);
    w.u32(point.flags);
    w.f64(point.min.unwrap_or(0.0));
    w.f64(point.max.unwrap_or(0.0));
}

/// `… Count, Sum, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, NegativeOffset,
/// NegativeBucketCounts, Exemplars.*, Flags, Min, Max`.
fn write_exponential_histogram_point(
    w: &mut RowBinaryWriter,
    point: &ExponentialHistogramDataPoint,
    scratch: &mut Vec<u8>,
) {
    write_point_start(
        w,
        &point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        scratch,
    );
    w.u64(point.count);
    w.f64(point.sum.unwrap_or(0.0));
    w.i32(point.scale);
    w.u64(point.zero_count);
    write_buckets(w, point.positive.as_ref());
    write_buckets(w, point.negative.as_ref());
    write_exemplars(w, &point.exemplars, scratch);
    w.u32(point.flags);
    w.f64(point.min.unwrap_or(0.0));
    w.f64(point.max.unwrap_or(0.0));
}

/// `… Count, Sum, ValueAtQuantiles.Quantile, ValueAtQuantiles.Value, Flags`.
fn write_summary_point(w: &mut RowBinaryWriter, point: &SummaryDataPoint, scratch: &mut Vec<u8>) {
    write_point_start(
        w,
        &point.attributes,
        point.start_time_unix_nano,
        point.time_unix_nano,
        scratch,
    );
    w.u64(point.count);
    w.f64(point.sum);
    let quantiles = &point.quantile_values;
    w.var_uint(quantiles.len() as u64);
    for quantile in quantiles {
        w.f64(quantile.quantile);
    }
    w.var_uint(quantiles.len() as u64);
    for quantile in quantiles {
        w.f64(quantile.value);
    }
    w.u32(point.flags);
}

/// `<Side>Offset, <Side>BucketCounts`; absent buckets are offset 0 with no counts.
fn write_buckets(w: &mut RowBinaryWriter, buckets: Option<&Buckets>) {
    w.i32(buckets.map_or(0, |b| b.offset));
    write_u64_array(w, buckets.map_or(&[], |b| &b.bucket_counts));
}

fn write_u64_array(w: &mut RowBinaryWriter, values: &[u64]) {
    w.var_uint(values.len() as u64);
    for value in values {
        w.u64(*value);
    }
}

/// `Exemplars.FilteredAttributes, .TimeUnix, .Value, .SpanId, .TraceId`: one array per field.
fn write_exemplars(w: &mut RowBinaryWriter, exemplars: &[Exemplar], scratch: &mut Vec<u8>) {
    let count = exemplars.len() as u64;
    w.var_uint(count);
    for exemplar in exemplars {
        write_attribute_map(w, &exemplar.filtered_attributes, scratch);
    }
    w.var_uint(count);
    for exemplar in exemplars {
        w.datetime64_nanos(exemplar.time_unix_nano);
    }
    w.var_uint(count);
    for exemplar in exemplars {
        w.f64(match exemplar.value {
            Some(exemplar::Value::AsDouble(value)) => value,
            Some(exemplar::Value::AsInt(value)) => value as f64,
            None => 0.0,
        });
    }
    w.var_uint(count);
    for exemplar in exemplars {
        w.hex_id(&exemplar.span_id);
    }
    w.var_uint(count);
    for exemplar in exemplars {
        w.hex_id(&exemplar.trace_id);
    }
}
