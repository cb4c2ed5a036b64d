//! Time as a parameter.
//!
//! Everything that depends on the current time asks a [`Clock`]. Production uses
//! [`SystemClock`]; tests use [`ManualClock`] and move it instead of sleeping.
//! Invariant: nothing else in the server reads the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time in Unix seconds.
    fn now(&self) -> i64;

    /// Milliseconds on a clock that never jumps (unlike the wall clock), from an arbitrary
    /// start: what leases are measured with.
    fn monotonic_ms(&self) -> i64 {
        real_monotonic_ms()
    }
}

/// Milliseconds since the first call in this process, from the operating system's monotonic
/// clock.
fn real_monotonic_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A clock shared by every part of one application instance.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
    /// Added to the real monotonic clock (leases run in real time unless a test moves them).
    monotonic_offset_ms: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock stopped at `now` (Unix seconds).
    pub fn new(now: i64) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(now)),
            monotonic_offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Moves the monotonic clock (leases) forward; the wall clock stays where it is.
    pub fn advance_monotonic(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.monotonic_offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward (or backward, with a negative value).
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `now` (Unix seconds).
    pub fn set(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn monotonic_ms(&self) -> i64 {
        real_monotonic_ms().saturating_add(self.monotonic_offset_ms.load(Ordering::SeqCst))
    }
}

/// Formats Unix seconds as an RFC 3339 timestamp in UTC (`2026-11-22T13:34:33Z`).
///
/// On the hot path (every token response and `/me`), so years 0 to 9999 are formatted by
/// hand into a fixed buffer ([`Rfc3339::rfc3339_bytes`]); other instants go through `time`,
/// or print as the number.
pub fn rfc3339(unix_seconds: i64) -> String {
    match Rfc3339(unix_seconds).rfc3339_bytes() {
        // Only ASCII digits and separators were written.
        Some(text) => String::from_utf8(text.to_vec()).unwrap_or_default(),
        None => time::OffsetDateTime::from_unix_timestamp(unix_seconds)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| unix_seconds.to_string()),
    }
}

/// Unix seconds that serialize as their RFC 3339 text without allocating: the API's
/// [`tessera_api::Timestamp`], which also reads them back.
pub use tessera_api::Timestamp as Rfc3339;

/// Appends the RFC 3339 text of `unix_seconds` (as [`rfc3339`] writes it: ASCII, nothing a
/// JSON string would have to escape).
pub fn push_rfc3339(out: &mut Vec<u8>, unix_seconds: i64) {
    Rfc3339(unix_seconds).push_to(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(59);
        assert_eq!(clock.now(), 1_059);
        clock.set(5);
        assert_eq!(clock.now(), 5);
    }

    #[test]
    fn the_serialized_form_is_the_same_text() {
        for instant in [
            0,
            -1,
            1_800_000_000,
            253_402_300_799,
            253_402_300_800,
            i64::MIN,
        ] {
            let json = serde_json::to_string(&Rfc3339(instant)).unwrap();
            assert_eq!(json, format!("\"{}\"", rfc3339(instant)), "{instant}");
        }
    }

    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_300_819_380), "2011-03-22T18:43:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_800), "253402300800");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }

    /// The hand-written formatter and reader agree with `time` across the whole range they
    /// handle.
    #[test]
    fn rfc3339_matches_the_time_crate() {
        let rfc = &time::format_description::well_known::Rfc3339;
        let (first, last) = (-62_167_219_200_i64, 253_402_300_799_i64);
        // A prime step visits every second of the day, day of the month and leap rule.
        let mut instant = first;
        let mut checked = 0;
        while instant <= last {
            let expected = time::OffsetDateTime::from_unix_timestamp(instant)
                .unwrap()
                .format(rfc)
                .unwrap();
            assert_eq!(rfc3339(instant), expected, "{instant}");
            // And the API's reader gives the same instant back.
            assert_eq!(expected.parse(), Ok(Rfc3339(instant)), "{instant}");
            instant += 7_919_999;
            checked += 1;
        }
        assert!(checked > 30_000, "{checked}");
    }
}
