//! When to restart a failed task: exponential backoff, and give up after too many failures in a
//! window. Pure: the supervisor feeds it the failure times and acts on the decision.

use std::time::{Duration, Instant};

/// Restart settings.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Failures tolerated within `window` before giving up on this worker.
    pub max_failures: usize,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_failures: 5,
            window: Duration::from_secs(300),
        }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartDecision {
    RestartAfter(Duration),
    GiveUp,
}

impl RestartPolicy {
    /// Decides from the times of recent failures (the newest last) and drops those outside the
    /// window.
    pub fn decide(&self, failures: &mut Vec<Instant>, now: Instant) -> RestartDecision {
        failures.retain(|at| now.saturating_duration_since(*at) <= self.window);
        if failures.len() >= self.max_failures {
            return RestartDecision::GiveUp;
        }
        let exponent = u32::try_from(failures.len().saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(16);
        let backoff = self
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        RestartDecision::RestartAfter(backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn backs_off_exponentially_then_gives_up() {
        let policy = RestartPolicy::default();
        let start = Instant::now();
        let mut failures = Vec::new();
        let mut delays = Vec::new();
        for second in 0..5 {
            failures.push(start + Duration::from_secs(second));
            delays.push(policy.decide(&mut failures, start + Duration::from_secs(second)));
        }
        assert_eq!(
            delays[0],
            RestartDecision::RestartAfter(Duration::from_millis(500))
        );
        assert_eq!(
            delays[1],
            RestartDecision::RestartAfter(Duration::from_secs(1))
        );
        assert_eq!(
            delays[3],
            RestartDecision::RestartAfter(Duration::from_secs(4))
        );
        assert_eq!(delays[4], RestartDecision::GiveUp);
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let policy = RestartPolicy::default();
        let start = Instant::now();
        let mut failures: Vec<Instant> = (0..4).map(|_| start).collect();
        let later = start + policy.window + Duration::from_secs(1);
        failures.push(later);
        assert_eq!(
            policy.decide(&mut failures, later),
            RestartDecision::RestartAfter(policy.initial_backoff)
        );
        assert_eq!(failures.len(), 1);
    }

    proptest! {
        #[test]
        fn backoff_never_exceeds_the_maximum(count in 1usize..50) {
            let policy = RestartPolicy { max_failures: 100, ..RestartPolicy::default() };
            let now = Instant::now();
            let mut failures = vec![now; count];
            match policy.decide(&mut failures, now) {
                RestartDecision::RestartAfter(delay) => prop_assert!(delay <= policy.max_backoff),
                RestartDecision::GiveUp => prop_assert!(false, "gave up below max_failures"),
            }
        }
    }
}
