//! InfluxDB line protocol on `POST /api/v1/telegraf`, as Telegraf's `http` output (with
//! `data_format = "influx"`) and `influxdb` output send it.
//!
//! The `precision` query parameter (`ns`/`n`, `us`/`u`, `ms`, `s`; nanoseconds when absent) gives
//! the timestamps' unit; the body may be compressed (gzip and the other encodings every listener
//! accepts). Valid lines are always forwarded; if any line is bad the reply is 400 naming the first
//! bad lines by number, otherwise 204, as InfluxDB answers. See [`parser`] for the syntax and
//! [`convert`] for the mapping to OTLP.

pub mod convert;
pub mod parser;
mod route;

pub(crate) use route::{TELEGRAF_PATH, telegraf_route};
