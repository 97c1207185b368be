//! RowBinary encoding: one body per table for one payload.

/// The tables a payload's rows go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Traces,
    Logs,
    MetricsGauge,
    MetricsSum,
    MetricsHistogram,
    MetricsExponentialHistogram,
    MetricsSummary,
}

/// The rows of one payload for one table, ready to send as `INSERT INTO t (columns) FORMAT RowBinary`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedTable {
    pub table: Table,
    /// Column names in the order the rows are encoded.
    pub columns: &'static [&'static str],
    pub rows: usize,
    pub row_binary: Vec<u8>,
}
