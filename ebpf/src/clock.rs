//! Converting the kernel's monotonic event timestamps to Unix time.

/// Converts a `CLOCK_MONOTONIC` timestamp (what `bpf_ktime_get_ns` returns, and so
/// [`crate::SocketEvent::timestamp_ns`]) to nanoseconds since the Unix epoch, using the
/// current offset between the two clocks. The offset moves only when the wall clock is
/// stepped, so converting shortly after capture is accurate to the microsecond.
pub fn monotonic_to_unix_nanos(monotonic_ns: u64) -> u64 {
    let offset = i128::from(clock_nanos(libc::CLOCK_REALTIME))
        - i128::from(clock_nanos(libc::CLOCK_MONOTONIC));
    u64::try_from(i128::from(monotonic_ns) + offset).unwrap_or(0)
}

fn clock_nanos(clock: libc::clockid_t) -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid, writable timespec; both clocks always exist on Linux.
    let result = unsafe { libc::clock_gettime(clock, &mut time) };
    if result != 0 {
        return 0;
    }
    u64::try_from(time.tv_sec).unwrap_or(0) * 1_000_000_000
        + u64::try_from(time.tv_nsec).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn now_on_the_monotonic_clock_converts_to_now() {
        let unix = monotonic_to_unix_nanos(clock_nanos(libc::CLOCK_MONOTONIC));
        let expected = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(expected.abs_diff(unix) < 50_000_000, "{unix} vs {expected}");
    }
}
