//! Business-hours calendars and the arithmetic SLAs need: "how much working time lies between two
//! instants" and "when does this much working time run out, starting now".
//!
//! A calendar is a fixed UTC offset, weekly opening intervals per weekday, holidays (closed all day)
//! and make-up working days (调休: a weekend day that is worked, with its own hours). Chinese shops
//! live by the last one: the State Council's holiday plan moves weekends around every year.
//!
//! Time zones are the fixed-offset zones of the one zone table (`tools::fixed_utc_offset`). The zones
//! kefu's shops are in (China, Hong Kong, Taiwan, Singapore, Japan, Korea) have no daylight saving time;
//! a zone with DST is refused rather than computed wrongly, since SLA arithmetic counts whole local days.
//!
//! All arithmetic is in milliseconds on local days, exact, with no floating point; the property tests
//! at the bottom check it against a minute-by-minute count.

use crate::error::{Error, Result};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const MINUTES_PER_DAY: u16 = 24 * 60;
/// How far ahead a due time is searched before giving up (a calendar closed for ten years).
const MAX_SEARCH_DAYS: i64 = 3_660;
const MAX_SPECIAL_DAYS: usize = 2_000;
const MAX_INTERVALS_PER_DAY: usize = 8;

/// An opening interval within a local day, `[start, end)` in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: u16,
    pub end: u16,
}

/// A validated calendar. Build it with [`Calendar::from_spec`] (or [`Calendar::new`] in code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    utc_offset_minutes: i32,
    /// Monday first.
    weekly: [Vec<Interval>; 7],
    /// Local day numbers (days since 1970-01-01 in local time) closed all day.
    holidays: BTreeSet<i64>,
    /// Local day numbers that are worked with their own hours, whatever the weekday.
    workdays: BTreeMap<i64, Vec<Interval>>,
}

/// The wire form of a calendar, as shops edit it: `"09:00"`-style times and `YYYY-MM-DD` dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarSpec {
    /// A zone name from the supported list (e.g. `Asia/Shanghai`).
    pub time_zone: String,
    /// Opening hours per weekday: keys `mon` … `sun`, each a list of `["09:00","12:00"]` pairs. A
    /// missing day is closed. `"24:00"` ends a day.
    pub weekly: BTreeMap<String, Vec<[String; 2]>>,
    /// Dates closed all day.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Dates worked with their own hours (调休), overriding both the weekday and a holiday.
    #[serde(default)]
    pub workdays: BTreeMap<String, Vec<[String; 2]>>,
}

const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl CalendarSpec {
    /// Weekdays 09:00–18:00 in Shanghai: what a new shop starts with.
    pub fn default_china() -> Self {
        let day = vec![["09:00".to_string(), "18:00".to_string()]];
        CalendarSpec {
            time_zone: "Asia/Shanghai".into(),
            weekly: WEEKDAY_KEYS[..5]
                .iter()
                .map(|k| (k.to_string(), day.clone()))
                .collect(),
            holidays: Vec::new(),
            workdays: BTreeMap::new(),
        }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::validation(message)
}

fn parse_clock(s: &str) -> Result<u16> {
    let (h, m) = s
        .split_once(':')
        .ok_or_else(|| invalid(format!("time `{s}` must look like 09:30")))?;
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(invalid(format!("time `{s}` must look like 09:30")));
    }
    let (h, m): (u16, u16) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(invalid(format!("time `{s}` is not a time of day")));
    }
    Ok(h * 60 + m)
}

fn format_clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn parse_date(s: &str) -> Result<i64> {
    let fmt = ::time::macros::format_description!("[year]-[month]-[day]");
    let date = ::time::Date::parse(s, &fmt)
        .map_err(|_| invalid(format!("date `{s}` must look like 2026-10-01")))?;
    Ok(i64::from(date.to_julian_day()) - i64::from(UNIX_EPOCH_JULIAN_DAY))
}

fn format_date(day: i64) -> String {
    let julian = i32::try_from(day + i64::from(UNIX_EPOCH_JULIAN_DAY)).unwrap_or(0);
    match ::time::Date::from_julian_day(julian) {
        Ok(d) => {
            let fmt = ::time::macros::format_description!("[year]-[month]-[day]");
            d.format(&fmt).unwrap_or_default()
        }
        Err(_) => String::new(),
    }
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

fn parse_intervals(pairs: &[[String; 2]], what: &str) -> Result<Vec<Interval>> {
    let mut out = pairs
        .iter()
        .map(|[a, b]| {
            let (start, end) = (parse_clock(a)?, parse_clock(b)?);
            if start >= end {
                return Err(invalid(format!("{what}: {a}–{b} ends before it starts")));
            }
            Ok(Interval { start, end })
        })
        .collect::<Result<Vec<_>>>()?;
    check_intervals(&mut out, what)?;
    Ok(out)
}

fn check_intervals(intervals: &mut [Interval], what: &str) -> Result<()> {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        return Err(invalid(format!(
            "{what}: at most {MAX_INTERVALS_PER_DAY} intervals a day"
        )));
    }
    intervals.sort_by_key(|i| i.start);
    for i in intervals.iter() {
        if i.start >= i.end || i.end > MINUTES_PER_DAY {
            return Err(invalid(format!(
                "{what}: an interval is empty or past 24:00"
            )));
        }
    }
    if intervals.windows(2).any(|w| w[1].start < w[0].end) {
        return Err(invalid(format!("{what}: intervals overlap")));
    }
    Ok(())
}

impl Calendar {
    /// A calendar from parts; intervals are sorted and checked.
    pub fn new(
        utc_offset_minutes: i32,
        mut weekly: [Vec<Interval>; 7],
        holidays: BTreeSet<i64>,
        mut workdays: BTreeMap<i64, Vec<Interval>>,
    ) -> Result<Self> {
        if utc_offset_minutes.abs() > 14 * 60 {
            return Err(invalid("the UTC offset must be within ±14 hours"));
        }
        for (i, day) in weekly.iter_mut().enumerate() {
            check_intervals(day, WEEKDAY_KEYS[i])?;
        }
        for day in workdays.values_mut() {
            check_intervals(day, "workday")?;
        }
        if weekly.iter().all(Vec::is_empty) {
            return Err(invalid(
                "the calendar needs opening hours on at least one weekday",
            ));
        }
        if holidays.len() + workdays.len() > MAX_SPECIAL_DAYS {
            return Err(invalid(format!(
                "at most {MAX_SPECIAL_DAYS} holidays and workdays"
            )));
        }
        Ok(Calendar {
            utc_offset_minutes,
            weekly,
            holidays,
            workdays,
        })
    }

    /// Validates a shop's calendar as edited.
    pub fn from_spec(spec: &CalendarSpec) -> Result<Self> {
        let offset = crate::tools::fixed_utc_offset(&spec.time_zone).ok_or_else(|| {
            invalid(format!(
                "unknown or unsupported time zone `{}` (zones with daylight saving are not supported)",
                spec.time_zone
            ))
        })?;
        let mut weekly: [Vec<Interval>; 7] = Default::default();
        for (key, pairs) in &spec.weekly {
            let i = WEEKDAY_KEYS
                .iter()
                .position(|k| k == key)
                .ok_or_else(|| invalid(format!("unknown weekday `{key}` (use mon … sun)")))?;
            weekly[i] = parse_intervals(pairs, key)?;
        }
        let holidays = spec
            .holidays
            .iter()
            .map(|d| parse_date(d))
            .collect::<Result<BTreeSet<_>>>()?;
        let workdays = spec
            .workdays
            .iter()
            .map(|(d, pairs)| Ok((parse_date(d)?, parse_intervals(pairs, d)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        Calendar::new(offset, weekly, holidays, workdays)
    }

    /// The wire form (with the zone name given, since offsets are shared by several names).
    pub fn to_spec(&self, time_zone: &str) -> CalendarSpec {
        let pairs = |v: &[Interval]| -> Vec<[String; 2]> {
            v.iter()
                .map(|i| [format_clock(i.start), format_clock(i.end)])
                .collect()
        };
        CalendarSpec {
            time_zone: time_zone.to_string(),
            weekly: self
                .weekly
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_empty())
                .map(|(i, v)| (WEEKDAY_KEYS[i].to_string(), pairs(v)))
                .collect(),
            holidays: self.holidays.iter().map(|d| format_date(*d)).collect(),
            workdays: self
                .workdays
                .iter()
                .map(|(d, v)| (format_date(*d), pairs(v)))
                .collect(),
        }
    }

    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * MINUTE_MS
    }

    /// The opening intervals of a local day.
    fn intervals_on(&self, day: i64) -> &[Interval] {
        if let Some(hours) = self.workdays.get(&day) {
            return hours;
        }
        if self.holidays.contains(&day) {
            return &[];
        }
        // 1970-01-01 was a Thursday (index 3 when Monday is 0).
        &self.weekly[(day + 3).rem_euclid(7) as usize]
    }

    /// Opening intervals of one local day as local-millisecond ranges.
    fn local_ranges(&self, day: i64) -> impl Iterator<Item = (i64, i64)> + '_ {
        let base = day * DAY_MS;
        self.intervals_on(day).iter().map(move |i| {
            (
                base + i64::from(i.start) * MINUTE_MS,
                base + i64::from(i.end) * MINUTE_MS,
            )
        })
    }

    /// Whether the shop is open at `t`.
    pub fn is_open(&self, t: Millis) -> bool {
        let local = t.0 + self.offset_ms();
        self.local_ranges(local.div_euclid(DAY_MS))
            .any(|(s, e)| s <= local && local < e)
    }

    /// Working time in `[from, to)`, in milliseconds; 0 when `to <= from`.
    pub fn business_millis_between(&self, from: Millis, to: Millis) -> i64 {
        if to <= from {
            return 0;
        }
        let (a, b) = (from.0 + self.offset_ms(), to.0 + self.offset_ms());
        let mut total = 0;
        for day in a.div_euclid(DAY_MS)..=b.div_euclid(DAY_MS) {
            for (s, e) in self.local_ranges(day) {
                let (s, e) = (s.max(a), e.min(b));
                if s < e {
                    total += e - s;
                }
            }
        }
        total
    }

    /// The earliest instant `t >= start` such that the working time in `[start, t)` is `duration_ms`:
    /// when a target of that much working time, started at `start`, falls due. `None` when the
    /// calendar has no room for it within ten years (e.g. everything declared a holiday).
    pub fn add_business_millis(&self, start: Millis, duration_ms: i64) -> Option<Millis> {
        if duration_ms <= 0 {
            return Some(start);
        }
        let a = start.0 + self.offset_ms();
        let first_day = a.div_euclid(DAY_MS);
        let mut remaining = duration_ms;
        for day in first_day..first_day + MAX_SEARCH_DAYS {
            for (s, e) in self.local_ranges(day) {
                let s = s.max(a);
                if s >= e {
                    continue;
                }
                if remaining <= e - s {
                    return Some(Millis(s + remaining - self.offset_ms()));
                }
                remaining -= e - s;
            }
        }
        None
    }

    /// The first instant at or after `t` when the shop is open (`t` itself when open).
    pub fn next_open(&self, t: Millis) -> Option<Millis> {
        let a = t.0 + self.offset_ms();
        let first_day = a.div_euclid(DAY_MS);
        for day in first_day..first_day + MAX_SEARCH_DAYS {
            for (s, e) in self.local_ranges(day) {
                if e > a {
                    return Some(Millis(s.max(a) - self.offset_ms()));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(json: &str) -> CalendarSpec {
        serde_json::from_str(json).unwrap()
    }

    /// 2026-11-23 is a Monday. Local Shanghai time → UTC millis.
    fn sh(date: &str, clock: &str) -> Millis {
        let day = parse_date(date).unwrap();
        let min = i64::from(parse_clock(clock).unwrap());
        Millis(day * DAY_MS + min * MINUTE_MS - 480 * MINUTE_MS)
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn weekday_hours_in_shanghai() {
        let cal = Calendar::from_spec(&CalendarSpec::default_china()).unwrap();
        assert!(cal.is_open(sh("2026-11-23", "09:00")));
        assert!(!cal.is_open(sh("2026-11-23", "18:00")));
        assert!(!cal.is_open(sh("2026-11-28", "10:00")), "Saturday");
        // Friday 17:00 + 2 working hours = Monday 10:00.
        assert_eq!(
            cal.add_business_millis(sh("2026-11-27", "17:00"), 2 * HOUR),
            Some(sh("2026-11-30", "10:00"))
        );
        // Started at night: the clock starts at the next opening.
        assert_eq!(
            cal.add_business_millis(sh("2026-11-23", "22:00"), HOUR),
            Some(sh("2026-11-24", "10:00"))
        );
        // Exactly a day's worth ends at closing time, not the next morning.
        assert_eq!(
            cal.add_business_millis(sh("2026-11-23", "09:00"), 9 * HOUR),
            Some(sh("2026-11-23", "18:00"))
        );
        assert_eq!(
            cal.business_millis_between(sh("2026-11-27", "17:00"), sh("2026-11-30", "10:00")),
            2 * HOUR
        );
        assert_eq!(
            cal.next_open(sh("2026-11-28", "10:00")),
            Some(sh("2026-11-30", "09:00"))
        );
    }

    #[test]
    fn holidays_and_make_up_workdays() {
        // National Day week: 10-01..10-07 off, Sunday 10-11 worked (调休).
        let cal = Calendar::from_spec(&spec(
            r#"{"time_zone":"Asia/Shanghai",
                "weekly":{"mon":[["09:00","12:00"],["13:00","18:00"]],"tue":[["09:00","18:00"]],
                          "wed":[["09:00","18:00"]],"thu":[["09:00","18:00"]],"fri":[["09:00","18:00"]]},
                "holidays":["2026-10-01","2026-10-02","2026-10-05","2026-10-06","2026-10-07"],
                "workdays":{"2026-10-11":[["10:00","16:00"]]}}"#,
        ))
        .unwrap();
        // Wednesday 09-30 17:00 + 4 h: 1 h on 09-30, then nothing until Thursday 10-08.
        assert_eq!(
            cal.add_business_millis(sh("2026-09-30", "17:00"), 4 * HOUR),
            Some(sh("2026-10-08", "12:00"))
        );
        assert!(cal.is_open(sh("2026-10-11", "11:00")), "make-up Sunday");
        // Monday lunch break is not working time.
        assert_eq!(
            cal.add_business_millis(sh("2026-10-12", "11:00"), 2 * HOUR),
            Some(sh("2026-10-12", "14:00"))
        );
        let round_trip = Calendar::from_spec(&cal.to_spec("Asia/Shanghai")).unwrap();
        assert_eq!(round_trip, cal);
    }

    #[test]
    fn bad_calendars_are_refused_with_reasons() {
        for (json, needle) in [
            (
                r#"{"time_zone":"Europe/London","weekly":{"mon":[["09:00","18:00"]]}}"#,
                "time zone",
            ),
            (r#"{"time_zone":"UTC","weekly":{}}"#, "at least one weekday"),
            (
                r#"{"time_zone":"UTC","weekly":{"mon":[["18:00","09:00"]]}}"#,
                "ends before",
            ),
            (
                r#"{"time_zone":"UTC","weekly":{"mon":[["09:00","13:00"],["12:00","18:00"]]}}"#,
                "overlap",
            ),
            (
                r#"{"time_zone":"UTC","weekly":{"mon":[["9:00","18:00"]]}}"#,
                "09:30",
            ),
            (
                r#"{"time_zone":"UTC","weekly":{"mon":[["09:00","24:30"]]}}"#,
                "not a time",
            ),
            (
                r#"{"time_zone":"UTC","weekly":{"xyz":[["09:00","18:00"]]}}"#,
                "weekday",
            ),
            (
                r#"{"time_zone":"UTC","weekly":{"mon":[["09:00","18:00"]]},"holidays":["2026-13-01"]}"#,
                "date",
            ),
        ] {
            let err = Calendar::from_spec(&spec(json)).unwrap_err();
            assert!(err.message.contains(needle), "{json}: {}", err.message);
        }
    }

    #[test]
    fn a_calendar_closed_forever_has_no_due_time() {
        let mut cal = Calendar::from_spec(&spec(
            r#"{"time_zone":"UTC","weekly":{"mon":[["09:00","10:00"]]}}"#,
        ))
        .unwrap();
        // Every Monday for eleven years is a holiday.
        let first_monday = 4; // 1970-01-05
        cal.holidays = (0..600).map(|w| first_monday + 7 * (2900 + w)).collect();
        let start = Millis((first_monday + 7 * 2900) * DAY_MS);
        assert_eq!(cal.add_business_millis(start, HOUR), None);
        assert_eq!(cal.next_open(start), None);
    }

    /// Working minutes in `[from, to)` counted one minute at a time (inputs minute-aligned).
    fn brute_force_minutes(cal: &Calendar, from: i64, to: i64) -> i64 {
        (from..to)
            .filter(|m| cal.is_open(Millis(m * MINUTE_MS)))
            .count() as i64
    }

    fn interval_strategy() -> impl Strategy<Value = Vec<Interval>> {
        // Up to three intervals per day on a quarter-hour grid, overlaps removed by construction.
        proptest::collection::vec((0u16..96, 1u16..24), 0..4).prop_map(|raw| {
            let mut out: Vec<Interval> = Vec::new();
            let mut cursor = 0u16;
            for (gap, len) in raw {
                let start = (cursor + gap).min(95);
                let end = (start + len).min(96);
                if start >= cursor && start < end {
                    out.push(Interval {
                        start: start * 15,
                        end: end * 15,
                    });
                    cursor = end;
                }
            }
            out
        })
    }

    fn calendar_strategy() -> impl Strategy<Value = Calendar> {
        (
            -8i32..=9,
            proptest::array::uniform7(interval_strategy()),
            proptest::collection::btree_set(20_000i64..20_030, 0..6),
            proptest::collection::btree_map(20_000i64..20_030, interval_strategy(), 0..4),
        )
            .prop_filter_map("no opening hours", |(hours, weekly, holidays, workdays)| {
                Calendar::new(hours * 60 + 30 * (hours % 2), weekly, holidays, workdays).ok()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The due time is exact: the working time up to it is the target, and a minute earlier is
        /// short of it (it is the earliest such time). Checked against a minute-by-minute count.
        #[test]
        fn due_time_is_exact_and_earliest(
            cal in calendar_strategy(),
            start_min in (20_000i64 * 1440)..(20_020 * 1440),
            target_min in 1i64..400,
        ) {
            let start = Millis(start_min * MINUTE_MS);
            let due = cal.add_business_millis(start, target_min * MINUTE_MS).unwrap();
            prop_assert!(due >= start);
            prop_assert_eq!(due.0 % MINUTE_MS, 0);
            let due_min = due.0 / MINUTE_MS;
            prop_assert_eq!(brute_force_minutes(&cal, start_min, due_min), target_min);
            prop_assert_eq!(cal.business_millis_between(start, due), target_min * MINUTE_MS);
            prop_assert!(cal.is_open(Millis(due.0 - MINUTE_MS)), "the last minute counted was open");
        }

        /// Working time between two instants matches the minute count and adds up over a split point.
        #[test]
        fn between_is_additive_and_matches_minutes(
            cal in calendar_strategy(),
            a in (20_000i64 * 1440)..(20_025 * 1440),
            len1 in 0i64..4_000,
            len2 in 0i64..4_000,
        ) {
            let (b, c) = (a + len1, a + len1 + len2);
            let ms = |m: i64| Millis(m * MINUTE_MS);
            let ab = cal.business_millis_between(ms(a), ms(b));
            let bc = cal.business_millis_between(ms(b), ms(c));
            prop_assert_eq!(ab, brute_force_minutes(&cal, a, b) * MINUTE_MS);
            prop_assert_eq!(ab + bc, cal.business_millis_between(ms(a), ms(c)));
            prop_assert_eq!(cal.business_millis_between(ms(c), ms(a)), 0);
        }

        /// next_open is open and nothing before it (from t) is.
        #[test]
        fn next_open_is_the_first_open_minute(
            cal in calendar_strategy(),
            t in (20_000i64 * 1440)..(20_020 * 1440),
        ) {
            let next = cal.next_open(Millis(t * MINUTE_MS)).unwrap();
            prop_assert!(cal.is_open(next));
            prop_assert_eq!(brute_force_minutes(&cal, t, next.0 / MINUTE_MS), 0);
        }
    }
}
