//! The caller's deadline, read from the `grpc-timeout` header.
//!
//! Everything the server does for a request (every attempt, every backoff sleep, every wait for
//! a rate-limit slot) ends before this instant, so no work outlives a caller that gave up.

use std::time::Duration;

use tokio::time::Instant;

/// The instant by which a request must be answered, if the caller set one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline from the caller.
    pub const NONE: Deadline = Deadline(None);

    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self(Some(Instant::now() + timeout))
    }

    /// The deadline of a gRPC request, from its `grpc-timeout` metadata.
    pub fn from_metadata(metadata: &tonic::metadata::MetadataMap) -> Self {
        metadata
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map(Self::after)
            .unwrap_or(Self::NONE)
    }

    /// The caller's instant, if any.
    pub fn instant(&self) -> Option<Instant> {
        self.0
    }

    /// The earlier of the caller's deadline and `now + cap`.
    pub fn capped(&self, cap: Duration) -> Instant {
        let ours = Instant::now() + cap;
        match self.0 {
            Some(theirs) if theirs < ours => theirs,
            _ => ours,
        }
    }
}

/// Parses a gRPC timeout (`"100m"`, `"5S"`): at most 8 digits and one unit letter.
pub fn parse_grpc_timeout(raw: &str) -> Option<Duration> {
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_rejects_junk() {
        assert_eq!(parse_grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for junk in ["", "S", "10", "123456789S", "-1S", "1x", "1.5S"] {
            assert_eq!(parse_grpc_timeout(junk), None, "{junk}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn capped_takes_the_earlier_instant() {
        let caller = Deadline::after(Duration::from_secs(1));
        assert_eq!(
            caller.capped(Duration::from_secs(30)),
            Instant::now() + Duration::from_secs(1)
        );
        assert_eq!(
            caller.capped(Duration::from_millis(10)),
            Instant::now() + Duration::from_millis(10)
        );
        assert_eq!(
            Deadline::NONE.capped(Duration::from_secs(3)),
            Instant::now() + Duration::from_secs(3)
        );
    }
}
