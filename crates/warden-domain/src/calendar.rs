//! The working-time calendar for reviewer SLAs (UNB-3, TKT-1): working hours, weekends, public
//! holidays and make-up working days (调休), as data.
//!
//! [`WorkCalendar`] is the configuration as written; [`WorkCalendar::validate`] turns it into a
//! [`Calendar`] that can no longer be wrong, or names the bad field. The provider's time zone is a
//! fixed UTC offset: Warden ships no tz database, and the default zone (Asia/Shanghai) has no
//! daylight saving time. Holidays change every year (the State Council publishes the next year's
//! schedule each autumn), so the lists are configuration and ship empty.
//!
//! Every search is bounded: a calendar with no working time for [`MAX_SEARCH_DAYS`] days gives a
//! result at the end of that window instead of looping.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::resource::InvalidInput;
use crate::time::{Timestamp, civil_from_days, days_from_civil};

/// How many days ahead [`Calendar::add_working_time`] looks for working time.
pub const MAX_SEARCH_DAYS: i64 = 366 * 2;

/// Most entries accepted in `holidays` or in `makeup_workdays`.
pub const MAX_LISTED_DAYS: usize = 10_000;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// The working-time calendar as configured (UNB-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WorkCalendar {
    /// The provider's time zone as a fixed offset from UTC in minutes, −720..=840.
    /// Default `480` (UTC+08:00, Asia/Shanghai, which has no DST).
    pub utc_offset_minutes: i32,
    /// Start of the working day, local `HH:MM`. Default `"09:00"`.
    pub day_start: String,
    /// End of the working day, local `HH:MM` (`24:00` allowed), after `day_start`.
    /// Default `"18:00"`.
    pub day_end: String,
    /// ISO weekdays (1 = Monday … 7 = Sunday) that are not working days. Default `[6, 7]`.
    pub weekend: Vec<u8>,
    /// Dates (`YYYY-MM-DD`) that are not working days (public holidays). Default empty.
    pub holidays: Vec<String>,
    /// Dates (`YYYY-MM-DD`) that are working days although they fall on the weekend
    /// (调休 make-up working days). Default empty.
    pub makeup_workdays: Vec<String>,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar {
            utc_offset_minutes: 480,
            day_start: "09:00".to_string(),
            day_end: "18:00".to_string(),
            weekend: vec![6, 7],
            holidays: Vec::new(),
            makeup_workdays: Vec::new(),
        }
    }
}

/// A calendar date (proleptic Gregorian), stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

impl Date {
    /// The date `y-m-d`; an impossible date is an error on field `date`.
    pub fn from_ymd(y: i64, m: i64, d: i64) -> Result<Date, InvalidInput> {
        let bad = || InvalidInput::new("date", format!("{y:04}-{m:02}-{d:02} is not a date"));
        if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
            return Err(bad());
        }
        let days = days_from_civil(y, m, d);
        // A day past the month's end rolls over into the next month.
        if civil_from_days(days) != (y, m, d) {
            return Err(bad());
        }
        Ok(Date(days))
    }

    /// Parses `YYYY-MM-DD`; errors are on field `date` (callers re-home them with `under`).
    pub fn parse(text: &str) -> Result<Date, InvalidInput> {
        let bad = || {
            InvalidInput::new(
                "date",
                format!(
                    "{:?} is not a date YYYY-MM-DD",
                    text.chars().take(32).collect::<String>()
                ),
            )
        };
        let b = text.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(bad());
        }
        let num = |from: usize, to: usize| -> Result<i64, InvalidInput> {
            let s = text.get(from..to).ok_or_else(bad)?;
            if !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        Date::from_ymd(num(0, 4)?, num(5, 7)?, num(8, 10)?).map_err(|_| bad())
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        self.0
    }

    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub fn iso_weekday(self) -> u8 {
        iso_weekday(self.0)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.0);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// ISO weekday of a day number (1970-01-01 was a Thursday).
fn iso_weekday(day: i64) -> u8 {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (day + 3).rem_euclid(7) as u8 + 1
}

/// Parses local `HH:MM` into milliseconds after midnight; `24:00` only when `allow_24`.
fn parse_hhmm(field: &str, text: &str, allow_24: bool) -> Result<i64, InvalidInput> {
    let bad = || {
        InvalidInput::new(
            field,
            format!(
                "{:?} is not a time of day HH:MM",
                text.chars().take(32).collect::<String>()
            ),
        )
    };
    let b = text.as_bytes();
    if b.len() != 5 || b.get(2) != Some(&b':') {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<i64, InvalidInput> {
        let s = text.get(from..to).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (h, m) = (num(0, 2)?, num(3, 5)?);
    let ok = (h <= 23 && m <= 59) || (allow_24 && h == 24 && m == 0);
    if !ok {
        return Err(bad());
    }
    Ok((h * 60 + m) * MINUTE_MS)
}

fn parse_dates(field: &str, texts: &[String]) -> Result<Vec<i64>, InvalidInput> {
    if texts.len() > MAX_LISTED_DAYS {
        return Err(InvalidInput::new(
            field,
            format!("has more than {MAX_LISTED_DAYS} entries"),
        ));
    }
    let mut days = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let date =
            Date::parse(text).map_err(|e| InvalidInput::new(format!("{field}[{i}]"), e.reason))?;
        days.push(date.0);
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

impl WorkCalendar {
    /// Checks the configuration and builds the [`Calendar`]; the error names the bad field
    /// (`day_end`, `holidays[3]`, …).
    pub fn validate(&self) -> Result<Calendar, InvalidInput> {
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(InvalidInput::new(
                "utc_offset_minutes",
                "must be between -720 (UTC-12:00) and 840 (UTC+14:00)",
            ));
        }
        let start = parse_hhmm("day_start", &self.day_start, false)?;
        let end = parse_hhmm("day_end", &self.day_end, true)?;
        if end <= start {
            return Err(InvalidInput::new(
                "day_end",
                format!(
                    "must be later than day_start ({}); overnight working hours are not supported",
                    self.day_start
                ),
            ));
        }
        let mut weekend = [false; 7];
        for (i, &wd) in self.weekend.iter().enumerate() {
            let slot = usize::from(wd)
                .checked_sub(1)
                .and_then(|k| weekend.get_mut(k))
                .ok_or_else(|| {
                    InvalidInput::new(
                        format!("weekend[{i}]"),
                        format!("{wd} is not an ISO weekday (1 = Monday … 7 = Sunday)"),
                    )
                })?;
            *slot = true;
        }
        if weekend.iter().all(|&w| w) {
            return Err(InvalidInput::new(
                "weekend",
                "names all seven weekdays, which leaves no working day",
            ));
        }
        let holidays = parse_dates("holidays", &self.holidays)?;
        let makeups = parse_dates("makeup_workdays", &self.makeup_workdays)?;
        if let Some((i, _)) = self
            .makeup_workdays
            .iter()
            .enumerate()
            .find(|(_, t)| Date::parse(t).is_ok_and(|d| holidays.binary_search(&d.0).is_ok()))
        {
            return Err(InvalidInput::new(
                format!("makeup_workdays[{i}]"),
                "is also listed in holidays",
            ));
        }
        let is_weekend = |day: i64| {
            weekend
                .get(usize::from(iso_weekday(day)) - 1)
                .copied()
                .unwrap_or(false)
        };
        // Only entries that change something matter for counting: a holiday on a weekend or a
        // make-up day on a weekday is already what the week says.
        let off_days = holidays.into_iter().filter(|&d| !is_weekend(d)).collect();
        let extra_days = makeups.into_iter().filter(|&d| is_weekend(d)).collect();
        Ok(Calendar {
            offset_ms: i64::from(self.utc_offset_minutes) * MINUTE_MS,
            start_ms: start,
            end_ms: end,
            weekend,
            off_days,
            extra_days,
        })
    }
}

/// A validated working-time calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    offset_ms: i64,
    start_ms: i64,
    end_ms: i64,
    /// Indexed by ISO weekday − 1.
    weekend: [bool; 7],
    /// Holidays that fall on a regular working weekday, sorted.
    off_days: Vec<i64>,
    /// Make-up working days that fall on the weekend, sorted.
    extra_days: Vec<i64>,
}

impl Calendar {
    /// The working hours, as minutes after local midnight (540, 1080 for 09:00–18:00).
    pub fn working_hours(&self) -> (i64, i64) {
        (self.start_ms / 60_000, self.end_ms / 60_000)
    }

    /// Whether each ISO weekday (Monday first) is a weekend day.
    pub fn weekend(&self) -> [bool; 7] {
        self.weekend
    }

    /// Holidays on working weekdays, as days since 1970-01-01 (sorted).
    pub fn holidays(&self) -> &[i64] {
        &self.off_days
    }

    /// Make-up working days (调休) on the weekend, as days since 1970-01-01 (sorted).
    pub fn makeup_days(&self) -> &[i64] {
        &self.extra_days
    }

    /// The provider time zone's offset east of UTC, in minutes.
    pub fn utc_offset_minutes(&self) -> i32 {
        i32::try_from(self.offset_ms / 60_000).unwrap_or(0)
    }

    /// The length of one working day (e.g. 9 h for 09:00–18:00), in milliseconds.
    pub fn working_day_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    /// The provider-local date of an instant.
    pub fn local_date(&self, t: Timestamp) -> Date {
        Date(t.0.saturating_add(self.offset_ms).div_euclid(DAY_MS))
    }

    fn is_weekend_day(&self, day: i64) -> bool {
        self.weekend
            .get(usize::from(iso_weekday(day)) - 1)
            .copied()
            .unwrap_or(false)
    }

    fn is_working_day_num(&self, day: i64) -> bool {
        if self.is_weekend_day(day) {
            self.extra_days.binary_search(&day).is_ok()
        } else {
            self.off_days.binary_search(&day).is_err()
        }
    }

    /// Whether `date` is a working day: a make-up working day, or a weekday that is neither on
    /// the weekend nor a holiday.
    pub fn is_working_day(&self, date: Date) -> bool {
        self.is_working_day_num(date.0)
    }

    /// The instant at local `day` plus `ms_of_day`, saturating at the ends of time.
    fn instant(&self, day: i64, ms_of_day: i64) -> Timestamp {
        Timestamp(
            day.saturating_mul(DAY_MS)
                .saturating_add(ms_of_day)
                .saturating_sub(self.offset_ms),
        )
    }

    /// `start` plus `ms` of working time. Only time inside working hours on working days counts;
    /// a `start` outside working hours starts counting at the next working period's start. A
    /// result that lands exactly on the end of a working day is that end (not the next day's
    /// start). `ms <= 0` returns `start` unchanged.
    ///
    /// Bounded: if the working time is not reached within [`MAX_SEARCH_DAYS`] local days after
    /// `start`'s day, the result is the end of that window.
    pub fn add_working_time(&self, start: Timestamp, ms: i64) -> Timestamp {
        if ms <= 0 {
            return start;
        }
        let local = start.0.saturating_add(self.offset_ms);
        let first_day = local.div_euclid(DAY_MS);
        let mut time_of_day = local.rem_euclid(DAY_MS);
        let mut left = ms;
        for day in first_day..first_day.saturating_add(MAX_SEARCH_DAYS) {
            if self.is_working_day_num(day) {
                let from = time_of_day.max(self.start_ms);
                if from < self.end_ms {
                    let available = self.end_ms - from;
                    if left <= available {
                        return self.instant(day, from + left);
                    }
                    left -= available;
                }
            }
            time_of_day = 0;
        }
        self.instant(first_day.saturating_add(MAX_SEARCH_DAYS), 0)
    }

    /// Working days in `[0, day)` relative to a fixed origin (day 0 = 1970-01-01); only
    /// differences of this function are meaningful. Closed form, so any span costs the same.
    fn working_days_before(&self, day: i64) -> i128 {
        let weeks = i128::from(day.div_euclid(7));
        let rest = day.rem_euclid(7);
        let per_week = self.weekend.iter().filter(|&&w| !w).count() as i128;
        let week_start = day - rest;
        let in_rest = (0..rest)
            .filter(|k| !self.is_weekend_day(week_start + k))
            .count() as i128;
        let off = self.off_days.partition_point(|&d| d < day) as i128;
        let extra = self.extra_days.partition_point(|&d| d < day) as i128;
        weeks * per_week + in_rest - off + extra
    }

    /// Working milliseconds from the origin to `t` (see `working_days_before`).
    fn cumulative(&self, t: Timestamp) -> i128 {
        let local = i128::from(t.0) + i128::from(self.offset_ms);
        let day_ms = i128::from(DAY_MS);
        // |local / DAY_MS| is far below i64::MAX, so the conversion cannot fail.
        let day = i64::try_from(local.div_euclid(day_ms)).unwrap_or(0);
        let time_of_day = i64::try_from(local.rem_euclid(day_ms)).unwrap_or(0);
        let today = if self.is_working_day_num(day) {
            time_of_day.clamp(self.start_ms, self.end_ms) - self.start_ms
        } else {
            0
        };
        self.working_days_before(day) * i128::from(self.working_day_ms()) + i128::from(today)
    }

    /// Working time from `a` to `b` in milliseconds, counted like [`Calendar::add_working_time`];
    /// negative when `b` is before `a` (e.g. how far past its due time a request is).
    pub fn working_time_between(&self, a: Timestamp, b: Timestamp) -> i64 {
        let diff = self.cumulative(b) - self.cumulative(a);
        i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
    }

    /// When a reviewer-queue request submitted at `submitted` is due (UNB-3, TKT-1).
    ///
    /// The policy says "about 2 hours inside working hours, at most one working day". Warden
    /// reads this as: the SLA is `sla_ms` of working time, but never more working time than
    /// `max_working_days` full working days; so
    /// `due = add_working_time(submitted, min(sla_ms, max_working_days × working_day_ms))`.
    /// With the defaults (2 h, 1 day, 09:00–18:00) a request submitted Friday 17:30 is due
    /// Monday 10:30, and an `sla_ms` of 12 h is cut to 9 h of working time.
    pub fn sla_due(&self, submitted: Timestamp, sla_ms: i64, max_working_days: u32) -> Timestamp {
        let cap = self
            .working_day_ms()
            .saturating_mul(i64::from(max_working_days));
        self.add_working_time(submitted, sla_ms.min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn shanghai() -> Calendar {
        WorkCalendar::default().validate().unwrap()
    }

    fn with(holidays: &[&str], makeups: &[&str]) -> Calendar {
        WorkCalendar {
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
            makeup_workdays: makeups.iter().map(|s| s.to_string()).collect(),
            ..WorkCalendar::default()
        }
        .validate()
        .unwrap()
    }

    fn due(cal: &Calendar, submitted: &str) -> Timestamp {
        cal.sla_due(t(submitted), 2 * HOUR, 1)
    }

    /// UNB-3: a request late on Friday carries over to Monday morning.
    #[test]
    fn friday_evening_rolls_to_monday() {
        assert_eq!(
            due(&shanghai(), "2026-01-09T17:30:00+08:00"),
            t("2026-01-12T10:30:00+08:00")
        );
    }

    /// UNB-3: public holidays do not count.
    #[test]
    fn holiday_is_skipped() {
        assert_eq!(
            due(&with(&["2026-01-12"], &[]), "2026-01-09T17:30:00+08:00"),
            t("2026-01-13T10:30:00+08:00")
        );
    }

    /// UNB-3: a make-up working day (调休) on the weekend counts.
    #[test]
    fn makeup_workday_counts() {
        let cal = with(&[], &["2026-01-10"]);
        assert!(cal.is_working_day(Date::parse("2026-01-10").unwrap()));
        assert_eq!(
            due(&cal, "2026-01-09T17:30:00+08:00"),
            t("2026-01-10T10:30:00+08:00")
        );
    }

    /// UNB-3: inside working hours the SLA is plain 2 hours; before hours it starts at 09:00; on
    /// the weekend it starts on Monday.
    #[test]
    fn plain_and_outside_hours() {
        let cal = shanghai();
        assert_eq!(
            due(&cal, "2026-01-13T10:00:00+08:00"),
            t("2026-01-13T12:00:00+08:00")
        );
        assert_eq!(
            due(&cal, "2026-01-13T08:00:00+08:00"),
            t("2026-01-13T11:00:00+08:00")
        );
        assert_eq!(
            due(&cal, "2026-01-11T15:00:00+08:00"),
            t("2026-01-12T11:00:00+08:00")
        );
        // After hours on a weekday: next morning.
        assert_eq!(
            due(&cal, "2026-01-13T19:00:00+08:00"),
            t("2026-01-14T11:00:00+08:00")
        );
        // Exactly filling the rest of a day ends at 18:00, not the next morning.
        assert_eq!(
            cal.add_working_time(t("2026-01-13T16:00:00+08:00"), 2 * HOUR),
            t("2026-01-13T18:00:00+08:00")
        );
        assert_eq!(
            cal.add_working_time(t("2026-01-11T15:00:00+08:00"), 0),
            t("2026-01-11T15:00:00+08:00")
        );
    }

    /// UNB-3: "at most one working day" caps the SLA at one working day of working time.
    #[test]
    fn sla_is_capped_at_working_days() {
        let cal = shanghai();
        assert_eq!(
            cal.sla_due(t("2026-01-13T10:00:00+08:00"), 12 * HOUR, 1),
            t("2026-01-14T10:00:00+08:00")
        );
        assert_eq!(
            cal.sla_due(t("2026-01-13T10:00:00+08:00"), 12 * HOUR, 2),
            t("2026-01-14T13:00:00+08:00")
        );
    }

    /// UNB-3: working_time_between agrees with add_working_time for many start times and
    /// durations, across weekends, holidays and make-up days.
    #[test]
    fn between_is_consistent_with_add() {
        let cal = with(&["2026-01-12", "2026-01-01"], &["2026-01-10", "2026-01-04"]);
        let base = t("2025-12-29T00:00:00+08:00").0;
        for step in 0..(24 * 4 * 24) {
            // every 15 minutes over 24 days, with an odd offset to hit non-round times
            let start = Timestamp(base + step * 15 * 60_000 + 7_000);
            for ms in [1, 30 * 60_000, 2 * HOUR, 9 * HOUR, 9 * HOUR + 1, 50 * HOUR] {
                let end = cal.add_working_time(start, ms);
                assert!(end > start);
                assert_eq!(cal.working_time_between(start, end), ms, "{start:?} + {ms}");
                assert_eq!(cal.working_time_between(end, start), -ms);
                // Nothing earlier reaches the same working time.
                assert!(cal.working_time_between(start, Timestamp(end.0 - 1)) < ms);
            }
        }
        // Whole weeks: 5 working days of 9 h, minus holidays, plus make-up days.
        assert_eq!(
            shanghai().working_time_between(
                t("2026-01-12T00:00:00+08:00"),
                t("2026-01-19T00:00:00+08:00")
            ),
            45 * HOUR
        );
        assert_eq!(
            cal.working_time_between(
                t("2026-01-05T00:00:00+08:00"),
                t("2026-01-19T00:00:00+08:00")
            ),
            (10 - 1 + 1) * 9 * HOUR
        );
    }

    /// UNB-3: the time zone is a fixed offset; a UTC calendar counts in UTC.
    #[test]
    fn other_offsets() {
        let utc = WorkCalendar {
            utc_offset_minutes: 0,
            ..WorkCalendar::default()
        }
        .validate()
        .unwrap();
        assert_eq!(
            utc.sla_due(t("2026-01-09T17:30:00Z"), 2 * HOUR, 1),
            t("2026-01-12T10:30:00Z")
        );
        assert_eq!(
            utc.local_date(t("2026-01-09T23:59:59Z")).to_string(),
            "2026-01-09"
        );
        assert_eq!(
            shanghai().local_date(t("2026-01-09T23:59:59Z")).to_string(),
            "2026-01-10"
        );
    }

    /// Bounded: a calendar with no working time for years gives the end of the search window.
    #[test]
    fn search_is_bounded() {
        let cal = shanghai();
        let start = t("2026-01-13T10:00:00+08:00");
        let end = cal.add_working_time(start, i64::MAX);
        assert_eq!(
            cal.local_date(end).days_since_epoch(),
            cal.local_date(start).days_since_epoch() + MAX_SEARCH_DAYS
        );
        let extreme = cal.add_working_time(Timestamp(i64::MAX - 10), HOUR);
        assert!(extreme.0 >= i64::MAX - 10 - cal.offset_ms);
        let _ = cal.working_time_between(Timestamp(i64::MIN), Timestamp(i64::MAX));
    }

    /// Dates and weekdays.
    #[test]
    fn dates() {
        let d = Date::parse("2026-01-09").unwrap();
        assert_eq!(d.iso_weekday(), 5);
        assert_eq!(d.to_string(), "2026-01-09");
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in [
            "2026-13-01",
            "2025-02-29",
            "2026-1-01",
            "20260101",
            "2026-01-0x",
            "",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        let cal = shanghai();
        assert!(cal.is_working_day(d));
        assert!(!cal.is_working_day(Date::parse("2026-01-10").unwrap()));
    }

    /// Bad calendar data is refused with the field named.
    #[test]
    fn bad_data_names_the_field() {
        let field = |c: WorkCalendar| c.validate().unwrap_err().field;
        let d = WorkCalendar::default;
        assert_eq!(
            field(WorkCalendar {
                day_start: "18:00".into(),
                day_end: "09:00".into(),
                ..d()
            }),
            "day_end"
        );
        assert_eq!(
            field(WorkCalendar {
                day_start: "9am".into(),
                ..d()
            }),
            "day_start"
        );
        assert_eq!(
            field(WorkCalendar {
                day_start: "24:00".into(),
                ..d()
            }),
            "day_start"
        );
        assert_eq!(
            field(WorkCalendar {
                holidays: vec!["2026-01-01".into(), "2026-13-01".into()],
                ..d()
            }),
            "holidays[1]"
        );
        assert_eq!(
            field(WorkCalendar {
                makeup_workdays: vec!["soon".into()],
                ..d()
            }),
            "makeup_workdays[0]"
        );
        assert_eq!(
            field(WorkCalendar {
                holidays: vec!["2026-01-10".into()],
                makeup_workdays: vec!["2026-01-10".into()],
                ..d()
            }),
            "makeup_workdays[0]"
        );
        assert_eq!(
            field(WorkCalendar {
                weekend: vec![6, 0],
                ..d()
            }),
            "weekend[1]"
        );
        assert_eq!(
            field(WorkCalendar {
                weekend: (1..=7).collect(),
                ..d()
            }),
            "weekend"
        );
        assert_eq!(
            field(WorkCalendar {
                utc_offset_minutes: 900,
                ..d()
            }),
            "utc_offset_minutes"
        );
        let ok = WorkCalendar {
            day_end: "24:00".into(),
            ..d()
        };
        assert_eq!(ok.validate().unwrap().working_day_ms(), 15 * HOUR);
    }

    /// The calendar is configuration: defaults for missing keys, unknown keys refused.
    #[test]
    fn from_config() {
        let c: WorkCalendar =
            serde_json::from_str(r#"{"holidays": ["2026-01-01"], "day_end": "17:30"}"#).unwrap();
        assert_eq!(c.utc_offset_minutes, 480);
        assert_eq!(c.weekend, vec![6, 7]);
        assert_eq!(
            c.validate().unwrap().working_day_ms(),
            8 * HOUR + 30 * 60_000
        );
        assert!(serde_json::from_str::<WorkCalendar>(r#"{"timezone": "UTC"}"#).is_err());
    }
}
