//! Instants as microseconds since the Unix epoch: the one representation both databases store
//! alike and that sorts as it should.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// Now, by the system clock.
    pub fn now() -> Self {
        let micros =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        Instant(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    /// From seconds and nanoseconds, as a protobuf Timestamp carries them; `None` outside the
    /// range a Timestamp allows (years 1 to 9999).
    pub fn from_parts(seconds: i64, nanos: i32) -> Option<Self> {
        const MIN: i64 = -62_135_596_800;
        const MAX: i64 = 253_402_300_799;
        if !(MIN..=MAX).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
            return None;
        }
        Some(Instant(seconds * 1_000_000 + i64::from(nanos / 1_000)))
    }

    /// Seconds and nanoseconds, as a protobuf Timestamp carries them.
    pub fn to_parts(self) -> (i64, i32) {
        let seconds = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        // Below one million micros, so the nanos fit an i32.
        (seconds, (micros * 1_000) as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_timestamp_parts() {
        for (s, n) in [(0, 0), (1_700_000_000, 123_456_000), (-1, 999_999_000)] {
            assert_eq!(Instant::from_parts(s, n).unwrap().to_parts(), (s, n));
        }
        assert!(Instant::from_parts(0, -1).is_none());
        assert!(Instant::from_parts(i64::MAX, 0).is_none());
    }
}
