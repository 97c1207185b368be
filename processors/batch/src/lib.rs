//! Batch processor: groups items into larger requests by size and timeout
