//! Encoder tests: each encodes a fixture payload and reads every column back with an independent
//! RowBinary reader.

mod fixtures;
mod logs;
mod metrics;
mod prometheus;
mod reader;
mod traces;

use super::{EncodedTable, Table, encode};
use cormorant_core::pdata::Payload;

/// The single table `payload` encodes to.
fn encode_one(payload: &Payload) -> EncodedTable {
    let mut tables = encode(payload);
    assert_eq!(tables.len(), 1, "one table per signal");
    tables.remove(0)
}

#[test]
fn empty_payloads_give_no_tables() {
    for payload in [
        Payload::Traces(vec![]),
        Payload::Logs(vec![]),
        Payload::Metrics(vec![]),
    ] {
        assert!(encode(&payload).is_empty());
    }
    let mut no_spans = fixtures::traces();
    for scope in &mut no_spans[0].scope_spans {
        scope.spans.clear();
    }
    assert!(encode(&Payload::Traces(no_spans)).is_empty());
}

#[test]
fn every_table_lists_its_columns_once() {
    for table in Table::ALL {
        let columns = table.columns();
        let mut sorted = columns.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), columns.len(), "{table:?} repeats a column");
    }
}
