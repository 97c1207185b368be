//! health_check extension: HTTP readiness endpoint compatible with otelcol
