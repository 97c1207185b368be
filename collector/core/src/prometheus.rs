//! How Prometheus series travel through the pipeline as OpenTelemetry metrics.
//!
//! A receiver that converts remote_write series into OTLP metrics and an exporter that stores
//! them back as Prometheus samples must agree on one convention, or the samples would not come
//! back exactly. This module is that convention:
//!
//! - metrics converted from Prometheus are put under the scope [`SCOPE_NAME`];
//! - a data point's attributes are the series' labels except `__name__` (the metric's name),
//!   and for histogram and summary points except `le`/`quantile`;
//! - a number point (gauge or sum) is the sample of series `{__name__=<metric name>, <attributes>}`;
//! - a histogram point is the samples of `<name>_bucket{le=…}` (cumulative counts), `<name>_sum`
//!   and `<name>_count`; a summary point those of `<name>{quantile=…}`, `<name>_sum` and
//!   `<name>_count`. The exact `le`/`quantile` label texts are kept in the metric's `metadata`
//!   under [`BUCKET_LABELS_KEY`] / [`QUANTILE_LABELS_KEY`] (one string per bound or quantile, in
//!   order; `+Inf` last for buckets), because a float does not remember how it was written. A
//!   receiver only groups series into a histogram or summary when that is exact; otherwise they
//!   stay number points;
//! - millisecond timestamps are nanosecond timestamps that are multiples of 1 000 000.

/// The instrumentation scope of every metric converted from Prometheus series.
pub const SCOPE_NAME: &str = "cormorant/prometheus";

/// The label that holds a series' metric name.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// `Metric.metadata` key: the `le` label texts of a histogram's buckets, bounds first, `+Inf`
/// last, as a string array.
pub const BUCKET_LABELS_KEY: &str = "prometheus.le";

/// `Metric.metadata` key: the `quantile` label texts of a summary's quantiles, in point order,
/// as a string array.
pub const QUANTILE_LABELS_KEY: &str = "prometheus.quantile";

/// Formats a float the way Prometheus' client libraries write `le` and `quantile` labels (Go's
/// `strconv.FormatFloat(v, 'g', -1, 64)`, with `+Inf`, `-Inf` and `NaN`): the shortest digits that
/// read back to the same value, in exponent form when the decimal exponent is below -4 or at
/// least 6, as Go's `%g` decides for the shortest precision.
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if value < 0.0 {
        out.push('-');
    }
    if !(-4..6).contains(&exponent) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let integer_digits = exponent as usize + 1;
        if digits.len() <= integer_digits {
            out.push_str(&digits);
            for _ in digits.len()..integer_digits {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..integer_digits]);
            out.push('.');
            out.push_str(&digits[integer_digits..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::format_float;

    #[test]
    fn formats_like_go_shortest_g() {
        // Expected texts are what Go 1.22's strconv.FormatFloat(v, 'g', -1, 64) prints.
        let cases: &[(f64, &str)] = &[
            (0.005, "0.005"),
            (0.1, "0.1"),
            (1.0, "1"),
            (2.5, "2.5"),
            (10.0, "10"),
            (120.0, "120"),
            (99999.0, "99999"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-0.25, "-0.25"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (0.0, "0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (0.30000000000000004, "0.30000000000000004"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(*value), *expected, "formatting {value:?}");
        }
    }

    #[test]
    fn text_reads_back_to_the_same_value() {
        for value in [0.005, 1e-300, 7.0e15, 123.456, 5e-324, f64::MAX] {
            assert_eq!(format_float(value).parse::<f64>().unwrap(), value);
        }
    }
}
