//! The ordered providers of one family, and failover between them.
//!
//! A family lists its providers in `INTEG_<FAMILY>_PROVIDERS`. A call that names a provider goes
//! to that one only. Otherwise it goes to the first; when failover is on and the first failed
//! without the request ever reaching it (breaker open, connection refused, client-side rate
//! limit), the next provider takes the call. A provider that may have acted is never bypassed:
//! that could charge or send twice.

use std::future::Future;
use std::sync::Arc;

use super::{Deadline, Policy, Repeat, Served};
use crate::error::{Error, Kind, Result};

/// One configured provider of a family: its implementation and its policy.
pub struct Entry<P: ?Sized> {
    /// The provider's name (`stripe`, `sandbox`).
    pub name: String,
    /// The implementation of the family trait.
    pub provider: Arc<P>,
    /// Its resilience policy.
    pub policy: Arc<Policy>,
}

/// The ordered providers of a family.
pub struct Providers<P: ?Sized> {
    entries: Vec<Entry<P>>,
    failover: bool,
}

impl<P: ?Sized> Providers<P> {
    /// Providers in the order given; `failover` lets a call move to the next one.
    pub fn new(entries: Vec<Entry<P>>, failover: bool) -> Self {
        Self { entries, failover }
    }

    /// Every configured provider, in order.
    pub fn entries(&self) -> &[Entry<P>] {
        &self.entries
    }

    /// The provider named `name`.
    pub fn get(&self, name: &str) -> Result<&Entry<P>> {
        self.entries.iter().find(|e| e.name == name).ok_or_else(|| {
            let mut e = Error::new(
                Kind::UnknownProvider,
                format!("provider {name:?} is not configured for this family"),
            );
            e.field = Some("provider".to_owned());
            e
        })
    }

    /// The providers a call may use: the named one, or the configured order.
    fn candidates(&self, requested: &str) -> Result<Vec<&Entry<P>>> {
        if !requested.is_empty() {
            return Ok(vec![self.get(requested)?]);
        }
        match (self.failover, self.entries.first()) {
            (_, None) => Err(Error::internal("no provider configured")),
            (true, _) => Ok(self.entries.iter().collect()),
            (false, Some(first)) => Ok(vec![first]),
        }
    }

    /// The error a call to `requested` (or the configured order) would fail with at once,
    /// because the breaker of every provider it may use is open: checked before a call does any
    /// work of its own (an idempotency claim), so that failing fast costs nothing. `None` when
    /// some provider may take it; the call itself then decides.
    pub fn refuses(&self, requested: &str) -> Option<Error> {
        let candidates = self.candidates(requested).ok()?;
        let open =
            |e: &&Entry<P>| e.policy.breaker_state() == crate::resilience::BreakerState::Open;
        if candidates.iter().all(open) {
            candidates.first().map(|e| e.policy.circuit_open())
        } else {
            None
        }
    }

    /// Runs `op` against the requested provider (or the configured order) under each
    /// provider's policy, failing over only when a provider certainly did nothing.
    pub async fn call<T, F, Fut>(
        &self,
        requested: &str,
        deadline: Deadline,
        repeat: Repeat,
        op: F,
    ) -> Result<Served<T>>
    where
        F: Fn(Arc<P>, u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut last = Error::internal("no provider configured");
        let mut attempts = 0;
        for entry in self.candidates(requested)? {
            let provider = entry.provider.clone();
            match entry
                .policy
                .call(deadline, repeat, |attempt| op(provider.clone(), attempt))
                .await
            {
                Ok(mut served) => {
                    served.attempts += attempts;
                    crate::telemetry::note_call(&served.provider, served.attempts);
                    return Ok(served);
                }
                Err(e) if e.not_sent && e.kind != Kind::DeadlineExceeded => {
                    tracing::warn!(provider = %entry.name, reason = e.kind.reason(), "provider did not take the call");
                    attempts += 1;
                    last = e;
                }
                Err(e) => {
                    crate::telemetry::note_call(&entry.name, attempts + 1);
                    return Err(e);
                }
            }
        }
        Err(last)
    }
}
