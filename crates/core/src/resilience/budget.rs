//! A retry budget: retries may add at most a fixed share of load on top of first attempts.
//!
//! A fixed retry count multiplies load during an outage: three attempts per call, across two
//! layers, is nine calls to a provider that is already failing. A budget instead allows retries
//! up to `ratio` times the first attempts seen in the last `window`, plus a small floor so that
//! a quiet service can still retry. Once spent, calls fail with their first error at once.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A sliding-window retry budget, shared by every call to one provider.
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    floor: u32,
    window: Duration,
    events: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// (time, is_retry) for each first attempt and each retry in the window.
    entries: VecDeque<(Instant, bool)>,
    firsts: u32,
    retries: u32,
}

impl RetryBudget {
    /// A budget of `ratio` retries per first attempt plus `floor` retries per `window`.
    pub fn new(ratio: f64, floor: u32, window: Duration) -> Self {
        let ratio = if ratio.is_finite() {
            ratio.clamp(0.0, 10.0)
        } else {
            0.0
        };
        Self {
            ratio,
            floor,
            window,
            events: Mutex::new(Window::default()),
        }
    }

    /// Records a first attempt.
    pub fn deposit(&self) {
        let mut w = self.lock();
        self.expire(&mut w);
        w.entries.push_back((Instant::now(), false));
        w.firsts += 1;
    }

    /// Takes one retry from the budget; false when the budget is spent.
    pub fn withdraw(&self) -> bool {
        let mut w = self.lock();
        self.expire(&mut w);
        let allowed = f64::from(self.floor) + self.ratio * f64::from(w.firsts);
        if f64::from(w.retries) + 1.0 > allowed {
            return false;
        }
        w.entries.push_back((Instant::now(), true));
        w.retries += 1;
        true
    }

    fn expire(&self, w: &mut Window) {
        let now = Instant::now();
        while let Some(&(at, retry)) = w.entries.front() {
            if now.duration_since(at) < self.window {
                break;
            }
            w.entries.pop_front();
            if retry {
                w.retries -= 1;
            } else {
                w.firsts -= 1;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        match self.events.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new(0.2, 10, Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn budget_caps_retries_at_ratio_plus_floor_and_refills_over_time() {
        let budget = RetryBudget::new(0.1, 2, Duration::from_secs(10));
        for _ in 0..100 {
            budget.deposit();
        }
        let granted = (0..100).filter(|_| budget.withdraw()).count();
        assert_eq!(granted, 12, "10% of 100 first attempts plus a floor of 2");

        tokio::time::advance(Duration::from_secs(11)).await;
        let granted = (0..100).filter(|_| budget.withdraw()).count();
        assert_eq!(
            granted, 2,
            "only the floor is left once the window has passed"
        );
    }
}
