//! Nop exporter: accepts and discards telemetry
