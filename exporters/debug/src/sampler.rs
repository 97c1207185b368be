//! `sampling_initial` / `sampling_thereafter`: within each second, the first `initial` batches
//! are written and after that every `thereafter`-th, so a busy pipeline cannot flood the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

pub(crate) struct Sampler {
    initial: u64,
    thereafter: u64,
    window: Mutex<Window>,
}

struct Window {
    started: Instant,
    seen: u64,
}

impl Sampler {
    pub(crate) fn new(initial: u64, thereafter: u64) -> Self {
        Sampler {
            initial,
            thereafter,
            window: Mutex::new(Window {
                started: Instant::now(),
                seen: 0,
            }),
        }
    }

    pub(crate) fn admit(&self) -> bool {
        self.admit_at(Instant::now())
    }

    /// Whether the batch seen at `now` is written. `thereafter: 0` writes none past the initial.
    fn admit_at(&self, now: Instant) -> bool {
        let mut window = self.window.lock().expect("sampler lock");
        if now.saturating_duration_since(window.started) >= WINDOW {
            window.started = now;
            window.seen = 0;
        }
        window.seen += 1;
        let seen = window.seen;
        if seen <= self.initial {
            return true;
        }
        self.thereafter != 0 && (seen - self.initial).is_multiple_of(self.thereafter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(sampler: &Sampler, at: Instant, count: usize) -> Vec<bool> {
        (0..count).map(|_| sampler.admit_at(at)).collect()
    }

    #[test]
    fn initial_then_every_nth_within_a_second() {
        let sampler = Sampler::new(2, 3);
        let start = Instant::now();
        assert_eq!(
            pattern(&sampler, start, 8),
            [true, true, false, false, true, false, false, true]
        );
        let next_second = start + Duration::from_millis(1001);
        assert_eq!(pattern(&sampler, next_second, 3), [true, true, false]);
    }

    #[test]
    fn defaults_write_everything_and_zero_stops_after_initial() {
        let start = Instant::now();
        assert!(pattern(&Sampler::new(2, 1), start, 10).iter().all(|w| *w));
        assert_eq!(pattern(&Sampler::new(1, 0), start, 3), [true, false, false]);
    }
}
