//! Memory limiter processor: refuses data with a retryable error above a memory limit
