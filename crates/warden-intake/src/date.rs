//! RFC 5322 dates (`Thu, 29 Apr 2009 00:00:00 -0000`), with the obsolete forms feedback loops
//! still send: named zones (`GMT`, `PST`), comments (`(UTC)`), two-digit years, no seconds.
//! A zone that is not a number nor one of RFC 5322's names (`JST`) counts as `-0000`, as RFC
//! 5322 §4.3 says of unknown zones.

use warden_domain::time::{Timestamp, days_from_civil};

use crate::mime::strip_comments;

/// Parses a date-time; `None` when it is not one.
pub fn parse_rfc5322(text: &str) -> Option<Timestamp> {
    let text = strip_comments(text);
    let mut words = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .peekable();
    if words
        .peek()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
    {
        words.next();
    }
    let day: i64 = words.next()?.parse().ok()?;
    let month = month(words.next()?)?;
    let mut year: i64 = {
        let y = words.next()?;
        if y.len() > 4 {
            return None;
        }
        y.parse().ok()?
    };
    if year < 50 {
        year += 2000;
    } else if year < 1000 {
        year += 1900;
    }
    let time = words.next()?;
    let mut hms = time.split(':');
    let h: i64 = hms.next()?.parse().ok()?;
    let m: i64 = hms.next()?.parse().ok()?;
    let s: i64 = match hms.next() {
        Some(s) => s.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if hms.next().is_some()
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..=60).contains(&s)
    {
        return None;
    }
    if !(1..=31).contains(&day) || !(1900..=9999).contains(&year) {
        return None;
    }
    let offset = words.next().map_or(0, zone);
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + m * 60 + s.min(59) - offset;
    Some(Timestamp(secs.checked_mul(1000)?))
}

fn month(w: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = w.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == w)
        .and_then(|i| i64::try_from(i + 1).ok())
}

/// The zone's offset east of UTC, in seconds.
fn zone(w: &str) -> i64 {
    let b = w.as_bytes();
    if let (Some(sign @ (b'+' | b'-')), 5) = (b.first(), b.len())
        && let Ok(n) = w.get(1..).unwrap_or_default().parse::<i64>()
    {
        let off = (n / 100) * 3600 + (n % 100) * 60;
        return if *sign == b'-' { -off } else { off };
    }
    let hours = match w.to_ascii_uppercase().as_str() {
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        _ => 0,
    };
    hours * 3600
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_feedback_loops_send() {
        let t = |s| parse_rfc5322(s).map(Timestamp::to_rfc3339);
        assert_eq!(
            t("Thu, 29 Apr 2009 00:00:00 -0000 (EST)").as_deref(),
            Some("2009-04-29T00:00:00.000Z")
        );
        assert_eq!(
            t("Thu, 29 Apr 2013 23:45:50 PST").as_deref(),
            Some("2013-04-30T07:45:50.000Z")
        );
        assert_eq!(
            t("Sat, 31 Oct 2020 19:32:58 +0100").as_deref(),
            Some("2020-10-31T18:32:58.000Z")
        );
        assert_eq!(
            t("9 Apr 06 23:34 JST").as_deref(),
            Some("2006-04-09T23:34:00.000Z")
        );
        assert_eq!(t("yesterday"), None);
        assert_eq!(t("Thu, 99 Foo 2009 00:00:00"), None);
    }
}
