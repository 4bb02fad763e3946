//! Time as data: milliseconds since the Unix epoch, UTC. The domain never reads a clock.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, milliseconds since 1970-01-01T00:00:00Z. Serialised as RFC 3339 text (the
/// one time format of every API response); read from that text or from integer milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize, schemars::JsonSchema)]
        #[serde(untagged)]
        enum Either {
            Millis(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Millis(ms) => Ok(Timestamp(ms)),
            Either::Text(t) => Timestamp::parse_rfc3339(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// `#[serde(deserialize_with = "warden_domain::time::rfc3339_text")]` for a time a client sends
/// (a request body): RFC 3339 text only, as the API document's `format: date-time` says, with
/// `T` between date and time and nothing around it. Integer milliseconds, which
/// [`Timestamp`]'s own reader takes for stored data, are refused as the wrong type.
pub fn rfc3339_text<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Timestamp;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 date-time string (e.g. \"2024-01-05T15:27:52Z\")")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
            let strict = v.trim() == v
                && v.as_bytes()
                    .get(10)
                    .is_some_and(|c| *c == b'T' || *c == b't');
            if !strict {
                return Err(E::custom(TimeParseError(v.chars().take(64).collect())));
            }
            Timestamp::parse_rfc3339(v).map_err(E::custom)
        }
    }
    d.deserialize_str(Text)
}

/// `#[serde(with = "warden_domain::time::rfc3339")]` for a stored `i64` of milliseconds: shown
/// as RFC 3339, read from RFC 3339 or milliseconds.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Timestamp;

    /// Serialises milliseconds as RFC 3339.
    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        Timestamp(*ms).serialize(s)
    }

    /// Reads RFC 3339 or milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        Timestamp::deserialize(d).map(Timestamp::millis)
    }

    /// The same for `Option<i64>`.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        use super::Timestamp;

        /// Serialises milliseconds as RFC 3339, `None` as null.
        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            ms.map(Timestamp).serialize(s)
        }

        /// Reads RFC 3339, milliseconds or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            Option::<Timestamp>::deserialize(d).map(|t| t.map(Timestamp::millis))
        }
    }
}

/// A timestamp text that is not RFC 3339.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not an RFC 3339 date-time (expected e.g. 2024-01-05T15:27:52Z): {0:?}")]
pub struct TimeParseError(pub String);

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This time plus `ms` milliseconds (saturating).
    pub fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Formats as RFC 3339 in UTC with millisecond precision, e.g. `2024-01-05T15:27:52.000Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }

    /// Parses RFC 3339 (`2018-02-05T14:17:10Z`, `2018-02-05T14:17:10.5+08:00`); a space may stand
    /// for the `T`.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeParseError> {
        let err = || TimeParseError(text.chars().take(64).collect());
        let b = text.trim().as_bytes();
        if b.len() < 20 {
            return Err(err());
        }
        let num = |from: usize, to: usize| -> Result<i64, TimeParseError> {
            let s = b.get(from..to).ok_or_else(err)?;
            if !s.iter().all(u8::is_ascii_digit) {
                return Err(err());
            }
            std::str::from_utf8(s)
                .map_err(|_| err())?
                .parse()
                .map_err(|_| err())
        };
        let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
        if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
            return Err(err());
        }
        let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if !(1..=12).contains(&mo)
            || d < 1
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return Err(err());
        }
        let mut i = 19;
        let mut ms = 0i64;
        if sep(i, b".") {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return Err(err());
            }
            let frac = num(start, (start + 3).min(i))?;
            ms = match (start + 3).min(i) - start {
                1 => frac * 100,
                2 => frac * 10,
                _ => frac,
            };
        }
        let offset_secs = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(c @ (b'+' | b'-')) if i + 6 == b.len() && sep(i + 3, b":") => {
                let off = num(i + 1, i + 3)? * 3600 + num(i + 4, i + 6)? * 60;
                if *c == b'+' { off } else { -off }
            }
            _ => return Err(err()),
        };
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + s.min(59) - offset_secs;
        Ok(Timestamp(secs * 1000 + ms))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let t = Timestamp::parse_rfc3339("2018-02-05T14:17:10Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2018-02-05T14:17:10.000Z");
        let u = Timestamp::parse_rfc3339("2018-02-05T22:17:10.25+08:00").unwrap();
        assert_eq!(u.0, t.0 + 250);
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2018-13-05T14:17:10Z",
            "2018-02-30T14:17:10Z",
            "2018-02-05",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
