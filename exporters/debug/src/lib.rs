//! Debug exporter: writes received telemetry to the log
