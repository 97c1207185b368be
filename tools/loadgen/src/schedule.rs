//! When each request goes out, and when the run is over.
//!
//! Rate limiting is a schedule, not a sleep per item: request `n` of the run (counted across
//! all workers) is due at `start + n × items_per_request / rate`. A worker that falls behind
//! sends its next request at once, so short stalls are caught up and the average rate stays
//! exact; a worker that is ahead sleeps until its slot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCondition {
    /// Stop handing out requests once this much time has passed since the start.
    After(Duration),
    /// Send exactly this many requests in total.
    Requests(u64),
}

/// Hands out request slots to any number of workers.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    items_per_second: u64,
    items_per_request: u64,
    stop: StopCondition,
    next_request: AtomicU64,
}

impl Schedule {
    /// `items_per_second == 0` means no limit: every slot is due immediately.
    pub fn new(
        start: Instant,
        items_per_second: u64,
        items_per_request: u64,
        stop: StopCondition,
    ) -> Self {
        Self {
            start,
            items_per_second,
            items_per_request,
            stop,
            next_request: AtomicU64::new(0),
        }
    }

    /// Claims the next request slot and returns when it is due, or `None` once the run is
    /// over. `now` is passed in so the decision is testable without a clock.
    pub fn claim(&self, now: Instant) -> Option<Instant> {
        let index = self.next_request.fetch_add(1, Ordering::Relaxed);
        let due = self.start + self.offset_of(index);
        match self.stop {
            StopCondition::Requests(total) => (index < total).then_some(due),
            StopCondition::After(limit) => {
                let deadline = self.start + limit;
                (now < deadline && due < deadline).then_some(due)
            }
        }
    }

    /// How long after the start request `index` is due.
    pub fn offset_of(&self, index: u64) -> Duration {
        if self.items_per_second == 0 {
            return Duration::ZERO;
        }
        let items_before = u128::from(index) * u128::from(self.items_per_request);
        let nanos = items_before * 1_000_000_000 / u128::from(self.items_per_second);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spaced_by_their_item_count_over_the_rate() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 1_000, 100, StopCondition::Requests(100));
        assert_eq!(schedule.offset_of(0), Duration::ZERO);
        assert_eq!(schedule.offset_of(1), Duration::from_millis(100));
        assert_eq!(schedule.offset_of(25), Duration::from_millis(2_500));

        let dues: Vec<Duration> = (0..4)
            .map(|_| schedule.claim(start).unwrap() - start)
            .collect();
        assert_eq!(dues, [0, 100, 200, 300].map(Duration::from_millis).to_vec());
    }

    #[test]
    fn fractional_intervals_do_not_drift() {
        let schedule = Schedule::new(Instant::now(), 3, 1, StopCondition::Requests(10));
        // 3 items/s: slot 3 is exactly one second in, not 3 × 333 ms.
        assert_eq!(schedule.offset_of(3), Duration::from_secs(1));
        assert_eq!(schedule.offset_of(1), Duration::from_nanos(333_333_333));
    }

    #[test]
    fn unlimited_rate_makes_every_slot_due_at_once() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 0, 512, StopCondition::Requests(3));
        for _ in 0..3 {
            assert_eq!(schedule.claim(start), Some(start));
        }
        assert_eq!(schedule.claim(start), None);
    }

    #[test]
    fn request_budget_is_shared_by_all_claimers() {
        let start = Instant::now();
        let schedule =
            std::sync::Arc::new(Schedule::new(start, 0, 1, StopCondition::Requests(1_000)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let schedule = schedule.clone();
                std::thread::spawn(move || std::iter::from_fn(|| schedule.claim(start)).count())
            })
            .collect();
        let claimed: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(claimed, 1_000);
    }

    #[test]
    fn duration_stops_slots_due_after_the_deadline() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 100, 10, StopCondition::After(Duration::from_secs(1)));
        // 10 items per request at 100 items/s: slots at 0, 0.1 … 0.9 s fit, 1.0 s does not.
        let granted = std::iter::from_fn(|| schedule.claim(start)).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn duration_stops_an_unlimited_run_when_the_clock_passes_the_deadline() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 0, 10, StopCondition::After(Duration::from_secs(2)));
        assert!(
            schedule
                .claim(start + Duration::from_millis(1_999))
                .is_some()
        );
        assert!(schedule.claim(start + Duration::from_secs(2)).is_none());
    }
}
