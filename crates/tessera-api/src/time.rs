//! [`Timestamp`]: an instant on the wire, RFC 3339 text in UTC (`2027-01-15T08:00:00Z`).
//!
//! Invariant: writing never allocates for years 0 to 9999 (every token answer and
//! `/api/auth/me` writes some) and reading gives back the same second: an instant outside
//! those years is written as its decimal Unix seconds, which reading accepts too.

use std::fmt;
use std::str::FromStr;

/// Unix seconds that travel as their RFC 3339 text in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// 0000-01-01T00:00:00Z.
const FIRST: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z.
const LAST: i64 = 253_402_300_799;

impl Timestamp {
    /// The 20 ASCII bytes of `YYYY-MM-DDTHH:MM:SSZ` for years 0 to 9999, else `None`.
    pub fn rfc3339_bytes(self) -> Option<[u8; 20]> {
        let unix_seconds = self.0;
        if !(FIRST..=LAST).contains(&unix_seconds) {
            return None;
        }
        let days = unix_seconds.div_euclid(86_400);
        let second_of_day = unix_seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut text = *b"0000-00-00T00:00:00Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], month);
        put_digits(&mut text[8..10], day);
        put_digits(&mut text[11..13], second_of_day / 3_600);
        put_digits(&mut text[14..16], second_of_day % 3_600 / 60);
        put_digits(&mut text[17..19], second_of_day % 60);
        Some(text)
    }

    /// Appends the text [`Timestamp`]'s `Display` writes (ASCII, nothing a JSON string
    /// would have to escape).
    pub fn push_to(self, out: &mut Vec<u8>) {
        match self.rfc3339_bytes() {
            Some(text) => out.extend_from_slice(&text),
            None => out.extend_from_slice(self.0.to_string().as_bytes()),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, or the Unix seconds outside years 0 to 9999.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rfc3339_bytes() {
            Some(text) => f.write_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Why a text is not a [`Timestamp`]; it never repeats the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampError;

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected an RFC 3339 instant in UTC such as 2027-01-15T08:00:00Z")
    }
}

impl std::error::Error for TimestampError {}

/// Reads exactly what `Display` writes: `YYYY-MM-DDTHH:MM:SSZ` with a real date and time of
/// day, or decimal Unix seconds outside years 0 to 9999.
impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        let digits = text.strip_prefix('-').unwrap_or(text);
        if !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            let seconds: i64 = text.parse().map_err(|_| TimestampError)?;
            return if (FIRST..=LAST).contains(&seconds) {
                Err(TimestampError)
            } else {
                Ok(Self(seconds))
            };
        }
        if bytes.len() != 20 {
            return Err(TimestampError);
        }
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ];
        if separators.iter().any(|&(at, byte)| bytes[at] != byte) {
            return Err(TimestampError);
        }
        let number = |from: usize, to: usize| -> Result<i64, TimestampError> {
            bytes[from..to].iter().try_fold(0_i64, |value, &digit| {
                if digit.is_ascii_digit() {
                    Ok(value * 10 + i64::from(digit - b'0'))
                } else {
                    Err(TimestampError)
                }
            })
        };
        let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
        let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(TimestampError);
        }
        let days = days_from_civil(year, month, day);
        Ok(Self(days * 86_400 + hour * 3_600 + minute * 60 + second))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339_bytes() {
            Some(text) => serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => serializer.collect_str(&self.0),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 instant in UTC")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Timestamps are RFC 3339 text in UTC.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("An instant, RFC 3339 in UTC"))
            .examples(["2027-01-15T08:00:00Z"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {
    fn name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }
}

/// Writes `value` (0 ≤ value < 10^len) as decimal digits filling `digits`.
fn put_digits(digits: &mut [u8], mut value: i64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Year, month (1–12) and day (1–31) of the proleptic Gregorian calendar for a count of
/// days since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`), the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_instants_read_and_write_as_rfc3339() {
        for (seconds, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1_800_000_000, "2027-01-15T08:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (FIRST, "0000-01-01T00:00:00Z"),
            (LAST, "9999-12-31T23:59:59Z"),
            (LAST + 1, "253402300800"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            assert_eq!(Timestamp(seconds).to_string(), text);
            assert_eq!(
                serde_json::to_string(&Timestamp(seconds)).unwrap(),
                format!("\"{text}\"")
            );
            assert_eq!(text.parse(), Ok(Timestamp(seconds)), "{text}");
            let json = format!("\"{text}\"");
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                Timestamp(seconds)
            );
        }
    }

    #[test]
    fn texts_that_name_no_instant_are_refused() {
        for text in [
            "",
            "2027-01-15 08:00:00Z",
            "2027-01-15T08:00:00+00:00",
            "2027-02-29T00:00:00Z",
            "2027-13-01T00:00:00Z",
            "2027-00-01T00:00:00Z",
            "2027-04-31T00:00:00Z",
            "2027-01-15T24:00:00Z",
            "2027-01-15T08:60:00Z",
            "2027-01-15T08:00:60Z",
            "2027-01-15T08:00:0aZ",
            "+027-01-15T08:00:00Z",
            // A number is only how instants outside years 0 to 9999 are written.
            "1800000000",
        ] {
            assert_eq!(text.parse::<Timestamp>(), Err(TimestampError), "{text}");
        }
        let error = serde_json::from_str::<Timestamp>("\"2027-02-30T00:00:00Z\"").unwrap_err();
        assert!(!error.to_string().contains("02-30"), "{error}");
    }

    proptest! {
        #[test]
        fn every_instant_reads_back_as_written(seconds in any::<i64>(), near in FIRST..=LAST) {
            for seconds in [seconds, near] {
                let text = Timestamp(seconds).to_string();
                prop_assert_eq!(text.parse::<Timestamp>(), Ok(Timestamp(seconds)));
                let mut pushed = Vec::new();
                Timestamp(seconds).push_to(&mut pushed);
                prop_assert_eq!(pushed, text.into_bytes());
            }
        }
    }
}
