//! What a series is, from the metadata of its family: Prometheus sends a family's type once per
//! family (and in separate requests), while series carry names with the suffixes the exposition
//! formats add (`_total`, `_bucket`, `_sum`, `_count`, `_created`).

use crate::remote_write::{MetricMetadata, MetricType, TimeSeries};
use std::collections::HashMap;

/// What one family's metadata says, as far as the conversion needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FamilyInfo {
    pub(crate) kind: MetricType,
    pub(crate) help: String,
    pub(crate) unit: String,
}

impl FamilyInfo {
    pub(crate) fn from_metadata(entry: &MetricMetadata) -> Self {
        FamilyInfo {
            kind: MetricType::try_from(entry.r#type).unwrap_or(MetricType::Unknown),
            help: entry.help.clone(),
            unit: entry.unit.clone(),
        }
    }
}

/// The OTLP number type a series' samples become when they are not grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NumberKind {
    Gauge,
    /// A counter, or a histogram's `_bucket`/`_count` series.
    MonotonicSum,
    /// A histogram's or summary's `_sum`, which only grows while observations are non-negative.
    CumulativeSum,
}

/// Which grouped point a family's series can be part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Aggregate {
    Histogram,
    Summary,
}

impl Aggregate {
    /// The label that tells a family's series apart within one point.
    pub(crate) fn bound_label(self) -> &'static str {
        match self {
            Aggregate::Histogram => "le",
            Aggregate::Summary => "quantile",
        }
    }
}

/// The part of a grouped point a series provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part<'a> {
    /// A `_bucket{le=…}` or `{quantile=…}` series, with the label's text.
    Bound(&'a str),
    Sum,
    Count,
}

/// How a series is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role<'a> {
    /// Each sample is a number point of its own.
    Number(NumberKind),
    /// A series of a classic histogram or summary family, grouped with its siblings when that
    /// is exact.
    Member {
        family: &'a str,
        aggregate: Aggregate,
        part: Part<'a>,
    },
}

impl Role<'_> {
    /// The number type of the series when it is not (or cannot be) grouped.
    pub(crate) fn number_kind(self) -> NumberKind {
        match self {
            Role::Number(kind) => kind,
            Role::Member {
                part: Part::Sum, ..
            } => NumberKind::CumulativeSum,
            Role::Member {
                part: Part::Count, ..
            }
            | Role::Member {
                aggregate: Aggregate::Histogram,
                part: Part::Bound(_),
                ..
            } => NumberKind::MonotonicSum,
            Role::Member {
                aggregate: Aggregate::Summary,
                part: Part::Bound(_),
                ..
            } => NumberKind::Gauge,
        }
    }
}

/// The family metadata of a series named `name` and its role: the family is the series' own name
/// when metadata for it exists, else the name without one of the exposition suffixes, provided
/// the suffix fits the family's type (`_total` a counter, `_bucket` a histogram, `_sum`/`_count`
/// a histogram or summary, `_created` any of those). A series without fitting metadata is a gauge.
pub(crate) fn classify<'a>(
    name: &'a str,
    series: &'a TimeSeries,
    families: &'a HashMap<String, FamilyInfo>,
) -> (Option<&'a FamilyInfo>, Role<'a>) {
    if let Some(info) = families.get(name) {
        let role = match info.kind {
            MetricType::Counter => Role::Number(NumberKind::MonotonicSum),
            MetricType::Summary => match label(series, Aggregate::Summary.bound_label()) {
                Some(quantile) => Role::Member {
                    family: name,
                    aggregate: Aggregate::Summary,
                    part: Part::Bound(quantile),
                },
                None => Role::Number(NumberKind::Gauge),
            },
            _ => Role::Number(NumberKind::Gauge),
        };
        return (Some(info), role);
    }
    for suffix in ["_total", "_bucket", "_sum", "_count", "_created"] {
        let Some(family) = name.strip_suffix(suffix) else {
            continue;
        };
        let Some(info) = families.get(family) else {
            continue;
        };
        let aggregate = match info.kind {
            MetricType::Histogram => Some(Aggregate::Histogram),
            MetricType::Summary => Some(Aggregate::Summary),
            _ => None,
        };
        let role = match (suffix, info.kind, aggregate) {
            ("_total", MetricType::Counter, _) => Role::Number(NumberKind::MonotonicSum),
            ("_created", MetricType::Counter | MetricType::Histogram | MetricType::Summary, _) => {
                Role::Number(NumberKind::Gauge)
            }
            ("_bucket", MetricType::Histogram, _) => match label(series, "le") {
                Some(le) => Role::Member {
                    family,
                    aggregate: Aggregate::Histogram,
                    part: Part::Bound(le),
                },
                None => Role::Number(NumberKind::Gauge),
            },
            ("_sum", _, Some(aggregate)) => Role::Member {
                family,
                aggregate,
                part: Part::Sum,
            },
            ("_count", _, Some(aggregate)) => Role::Member {
                family,
                aggregate,
                part: Part::Count,
            },
            _ => continue,
        };
        return (Some(info), role);
    }
    (None, Role::Number(NumberKind::Gauge))
}

fn label<'a>(series: &'a TimeSeries, name: &str) -> Option<&'a str> {
    series
        .labels
        .iter()
        .find(|label| label.name == name)
        .map(|label| label.value.as_str())
}
