//! The times a schedule's spec names. Cron strings and calendars are parsed
//! by croner and matched on civil (wall-clock) times; jiff's zone database
//! maps each civil time to instants, so daylight-saving changes are read
//! literally: a clock time the change skips has no instant that day, a
//! clock time it repeats has two.

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::model::schedule::{CalendarSpec, IntervalSpec, ScheduleSpec};

/// Longest jitter: a day.
const MAX_JITTER_MS: u64 = 86_400_000;
/// Shortest interval.
const MIN_INTERVAL_MS: u64 = 1_000;
/// Candidates looked at for one next time before giving up (a spec whose
/// exclusions remove every time it names).
const SEARCH_LIMIT: usize = 100_000;
/// Runs of [`SEARCH_LIMIT`] excluded candidates a listing of times goes
/// across.
const GAPS: usize = 3;
/// How far back a search starts on the wall clock, so that the first of two
/// instants of a repeated clock time is not passed over.
const FOLD_MARGIN_MS: i64 = 3 * 3_600_000;

/// A spec ready to answer "what is the next time after t".
pub struct CompiledSpec {
    crons: Vec<Cron>,
    intervals: Vec<IntervalSpec>,
    exclude: Vec<Cron>,
    start_at_ms: Option<u64>,
    end_at_ms: Option<u64>,
    jitter_ms: u64,
    tz: TimeZone,
}

/// What a search for a spec's next time found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// The next time it names.
    At(u64),
    /// No time is left (past its end, or a cron naming no future time).
    End,
    /// Every candidate up to this time is excluded; the search stopped
    /// there (the next one starts after it).
    Excluded(u64),
}

/// A spec that cannot be used: the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(pub String);

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Optional)
        .build()
}

fn parse_cron(field: &str, text: &str) -> Result<Cron, SpecError> {
    parser().parse(text).map_err(|e| {
        let which = match cron_field_at_fault(text) {
            // A range that wraps (`sat-mon`, `22-2`) is the usual cause.
            Some((name, value)) if value.contains('-') => format!(
                "its {name} field {value:?} is out of range or malformed: a range runs \
                 forward, so write one that wraps as its parts (`sat,sun,mon`, `22-23,0-2`)"
            ),
            Some((name, value)) => {
                format!("its {name} field {value:?} is out of range or malformed")
            }
            None => e.to_string(),
        };
        SpecError(format!(
            "{field}: {text:?} is not a cron string ({which}); use 5 fields (minute hour \
             day-of-month month day-of-week), 6 (seconds first) or 7 (and the year last), \
             or @hourly, @daily, @weekly, @monthly, @yearly, @every 15m"
        ))
    })
}

/// Which field of a 5-7 field cron string does not parse: each is tried
/// alone, the others left at `*` (seconds at 0).
fn cron_field_at_fault(text: &str) -> Option<(&'static str, String)> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let names: &[&str] = match fields.len() {
        5 => &["minute", "hour", "day-of-month", "month", "day-of-week"],
        6 => &[
            "second",
            "minute",
            "hour",
            "day-of-month",
            "month",
            "day-of-week",
        ],
        7 => &[
            "second",
            "minute",
            "hour",
            "day-of-month",
            "month",
            "day-of-week",
            "year",
        ],
        _ => return None,
    };
    for (i, value) in fields.iter().enumerate() {
        let probe: Vec<&str> = (0..fields.len())
            .map(|j| match j {
                j if j == i => *value,
                0 if fields.len() > 5 => "0",
                _ => "*",
            })
            .collect();
        if parser().parse(&probe.join(" ")).is_err() {
            return Some((names[i], (*value).to_owned()));
        }
    }
    None
}

fn duration(field: &str, text: &str) -> Result<u64, SpecError> {
    use crate::model::duration::{duration_ms, DurationError};
    let text = text.trim();
    duration_ms(text).map_err(|e| match e {
        DurationError::NotADuration => SpecError(format!(
            "{field}: {text:?} is not a duration (use `90s`, `15m`, `2h`, `1d`, or milliseconds)"
        )),
        DurationError::Negative => SpecError(format!("{field}: {text:?} is negative")),
    })
}

/// `@every 15m` or `@every 1h/5m` (every hour, 5 minutes past).
fn parse_every(field: &str, text: &str) -> Result<Option<IntervalSpec>, SpecError> {
    let Some(rest) = text.trim().strip_prefix("@every") else {
        return Ok(None);
    };
    let (every, offset) = match rest.split_once('/') {
        Some((e, o)) => (e, Some(o)),
        None => (rest, None),
    };
    Ok(Some(IntervalSpec {
        every_ms: duration(field, every)?,
        offset_ms: offset.map(|o| duration(field, o)).transpose()?.unwrap_or(0),
    }))
}

/// A calendar as a 7-field cron string; a field that does not parse is
/// named.
fn calendar_cron(field: &str, c: &CalendarSpec) -> Result<Cron, SpecError> {
    let parts: [(&str, &Option<String>, &str); 7] = [
        ("second", &c.second, "0"),
        ("minute", &c.minute, "0"),
        ("hour", &c.hour, "0"),
        ("day_of_month", &c.day_of_month, "*"),
        ("month", &c.month, "*"),
        ("day_of_week", &c.day_of_week, "*"),
        ("year", &c.year, "*"),
    ];
    let value = |v: &Option<String>, default: &'static str| -> String {
        match v.as_deref().map(str::trim) {
            None | Some("") => default.to_owned(),
            Some(s) => s.to_owned(),
        }
    };
    for (i, (name, v, _)) in parts.iter().enumerate() {
        let Some(text) = v.as_deref() else { continue };
        if text.split_whitespace().count() > 1 {
            return Err(SpecError(format!(
                "{field}.{name}: {text:?} has spaces; list values with commas (`1,15`)"
            )));
        }
        let probe: Vec<String> = parts
            .iter()
            .enumerate()
            .map(|(j, (_, v, d))| if i == j { value(v, d) } else { (*d).to_owned() })
            .collect();
        if let Err(e) = parser().parse(&probe.join(" ")) {
            return Err(SpecError(format!(
                "{field}.{name}: {text:?} is not a {name} ({e}); use a value, a range (`9-17`), \
                 a list (`1,15`), a step (`*/15`) or `*`"
            )));
        }
    }
    let all: Vec<String> = parts.iter().map(|(_, v, d)| value(v, d)).collect();
    parse_cron(field, &all.join(" "))
}

/// Checks and prepares a spec.
pub fn compile(spec: &ScheduleSpec) -> Result<CompiledSpec, SpecError> {
    let tz = match spec.time_zone.as_deref() {
        None | Some("") | Some("UTC") => TimeZone::UTC,
        Some(name) => TimeZone::get(name).map_err(|_| {
            SpecError(format!(
                "spec.time_zone: {name:?} is not an IANA time zone (for example \
                 `Europe/Berlin`, `America/New_York`, `UTC`)"
            ))
        })?,
    };
    let mut crons = Vec::new();
    let mut intervals = spec.intervals.clone();
    for (i, text) in spec.cron.iter().enumerate() {
        let field = format!("spec.cron[{i}]");
        match parse_every(&field, text)? {
            Some(every) => intervals.push(every),
            None => crons.push(parse_cron(&field, text)?),
        }
    }
    for (i, c) in spec.calendars.iter().enumerate() {
        crons.push(calendar_cron(&format!("spec.calendars[{i}]"), c)?);
    }
    for (i, every) in intervals.iter().enumerate() {
        if every.every_ms < MIN_INTERVAL_MS {
            return Err(SpecError(format!(
                "spec.intervals[{i}].every_ms: {} ms is under the shortest interval, 1 s",
                every.every_ms
            )));
        }
    }
    let mut exclude = Vec::new();
    for (i, text) in spec.exclude_cron.iter().enumerate() {
        exclude.push(parse_cron(&format!("spec.exclude_cron[{i}]"), text)?);
    }
    for (i, c) in spec.exclude_calendars.iter().enumerate() {
        exclude.push(calendar_cron(&format!("spec.exclude_calendars[{i}]"), c)?);
    }
    if spec.jitter_ms > MAX_JITTER_MS {
        return Err(SpecError(format!(
            "spec.jitter_ms: {} ms is over the longest jitter, a day",
            spec.jitter_ms
        )));
    }
    if crons.is_empty() && intervals.is_empty() {
        return Err(SpecError(
            "spec: names no time; give at least one of cron, intervals or calendars".into(),
        ));
    }
    if let (Some(s), Some(e)) = (spec.start_at_ms, spec.end_at_ms) {
        if e < s {
            return Err(SpecError(
                "spec.end_at_ms: it is before spec.start_at_ms".into(),
            ));
        }
    }
    Ok(CompiledSpec {
        crons,
        intervals,
        exclude,
        start_at_ms: spec.start_at_ms,
        end_at_ms: spec.end_at_ms,
        jitter_ms: spec.jitter_ms,
        tz,
    })
}

fn ms_of(ts: Timestamp) -> u64 {
    u64::try_from(ts.as_millisecond()).unwrap_or(0)
}

fn timestamp(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

impl CompiledSpec {
    /// The instants of a civil (wall-clock) time: none in a gap, one, or two
    /// in a fold.
    fn instants(&self, civil: DateTime) -> Vec<u64> {
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset
                .to_timestamp(civil)
                .ok()
                .map(ms_of)
                .into_iter()
                .collect(),
            // The clock skips this time on this day: it does not happen.
            AmbiguousOffset::Gap { .. } => Vec::new(),
            // The clock shows this time twice: it happens twice.
            AmbiguousOffset::Fold { before, after } => [before, after]
                .into_iter()
                .filter_map(|o| o.to_timestamp(civil).ok().map(ms_of))
                .collect(),
        }
    }

    /// The earliest instant after `after_ms` whose wall-clock time a cron
    /// string names.
    fn cron_next(&self, cron: &Cron, after_ms: u64) -> Option<u64> {
        let after = timestamp(i64::try_from(after_ms).ok()?)?;
        // Away from a daylight-saving change, wall-clock order is instant
        // order: the first match after the wall-clock time of `after`.
        let mut civil: DateTime = self.tz.to_datetime(after);
        let mut simple = None;
        for _ in 0..1_000 {
            let next = cron.find_next_occurrence(&civil, false).ok()?;
            if let Some(t) = self.instants(next).into_iter().find(|t| *t > after_ms) {
                simple = Some(t);
                break;
            }
            civil = next;
        }
        // Near a change, a fold repeats an hour: a time before the
        // wall-clock time of `after` may come again after it, and a repeated
        // time may come before a later-looking one. Look at every match from
        // three hours before to three hours past the first found.
        let horizon = simple
            .unwrap_or(after_ms)
            .saturating_add(FOLD_MARGIN_MS as u64);
        let window_start = timestamp(i64::try_from(after_ms).ok()? - FOLD_MARGIN_MS)?;
        let near_change = self
            .tz
            .following(window_start)
            .next()
            .is_some_and(|t| ms_of(t.timestamp()) <= horizon);
        if !near_change {
            return simple;
        }
        let stop = self
            .tz
            .to_datetime(timestamp(i64::try_from(horizon).ok()?)?)
            .checked_add(jiff::SignedDuration::from_millis(FOLD_MARGIN_MS))
            .ok()?;
        let mut civil = self.tz.to_datetime(window_start);
        let mut best = simple;
        for _ in 0..100_000 {
            let Ok(next) = cron.find_next_occurrence(&civil, false) else {
                break;
            };
            if next > stop {
                break;
            }
            for t in self.instants(next) {
                if t > after_ms && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
            civil = next;
        }
        best
    }

    fn interval_next(every: &IntervalSpec, after_ms: u64) -> Option<u64> {
        let (after, every_ms, offset) = (
            i128::from(after_ms),
            i128::from(every.every_ms),
            i128::from(every.offset_ms % every.every_ms),
        );
        let k = (after - offset).div_euclid(every_ms) + 1;
        u64::try_from(offset + k * every_ms).ok()
    }

    fn excluded(&self, at_ms: u64) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        let Some(ts) = i64::try_from(at_ms).ok().and_then(timestamp) else {
            return false;
        };
        let civil = self.tz.to_datetime(ts);
        self.exclude
            .iter()
            .any(|c| c.is_time_matching(&civil).unwrap_or(false))
    }

    /// The first time after `after_ms` the spec names (its nominal time,
    /// before jitter), if one is found within [`SEARCH_LIMIT`] candidates.
    pub fn next_after(&self, after_ms: u64) -> Option<u64> {
        match self.search(after_ms) {
            Search::At(t) => Some(t),
            Search::End | Search::Excluded(_) => None,
        }
    }

    /// The first time after `after_ms` the spec names, looking at up to
    /// [`SEARCH_LIMIT`] candidates.
    pub fn search(&self, after_ms: u64) -> Search {
        let mut after = after_ms;
        if let Some(start) = self.start_at_ms {
            after = after.max(start.saturating_sub(1));
        }
        for _ in 0..SEARCH_LIMIT {
            let Some(candidate) = self
                .crons
                .iter()
                .filter_map(|c| self.cron_next(c, after))
                .chain(
                    self.intervals
                        .iter()
                        .filter_map(|i| Self::interval_next(i, after)),
                )
                .min()
            else {
                return Search::End;
            };
            if self.end_at_ms.is_some_and(|end| candidate > end) {
                return Search::End;
            }
            if !self.excluded(candidate) {
                return Search::At(candidate);
            }
            after = candidate;
        }
        Search::Excluded(after)
    }

    /// Whether `at_ms` is one of the times the spec names.
    pub fn names(&self, at_ms: u64) -> bool {
        at_ms > 0 && self.next_after(at_ms - 1) == Some(at_ms)
    }

    /// Where a cursor at `cursor_ms` moves to when the times whose action
    /// was due by `now_ms` (after jitter) are passed over: up to the first
    /// time still to come. A time named before `now_ms` whose jittered
    /// moment is ahead is not passed.
    pub fn passed_by(&self, schedule: &str, cursor_ms: u64, now_ms: u64) -> u64 {
        // Every time before this was due by now, whatever its jitter.
        let mut cursor = cursor_ms.max(now_ms.saturating_sub(self.jitter_ms));
        for _ in 0..SEARCH_LIMIT {
            match self.next_after(cursor) {
                Some(t) if self.moment(schedule, t) <= now_ms => cursor = t,
                _ => break,
            }
        }
        cursor
    }

    /// Up to `cap` times in `(after_ms, until_ms]`, in order; the search
    /// goes on across up to [`GAPS`] runs of excluded times (a weekend of
    /// excluded seconds is two).
    pub fn times_between(&self, after_ms: u64, until_ms: u64, cap: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut t = after_ms;
        let mut gaps = 0;
        while out.len() < cap {
            match self.search(t) {
                Search::At(next) if next <= until_ms => {
                    out.push(next);
                    t = next;
                }
                Search::Excluded(last) if last < until_ms && gaps < GAPS => {
                    gaps += 1;
                    t = last;
                }
                _ => break,
            }
        }
        out
    }

    /// When the action of `nominal_ms` is taken: the time plus its jitter.
    pub fn moment(&self, schedule: &str, nominal_ms: u64) -> u64 {
        nominal_ms.saturating_add(self.jitter(schedule, nominal_ms))
    }

    /// How long the action of `nominal_ms` waits after it: derived from the
    /// schedule and the time, so every host and every restart agree. Never
    /// past the next time (a jitter longer than the gap would hold the
    /// times after it back, in order, until they were late).
    pub fn jitter(&self, schedule: &str, nominal_ms: u64) -> u64 {
        if self.jitter_ms == 0 {
            return 0;
        }
        let most = match self.search(nominal_ms) {
            Search::At(next) => self.jitter_ms.min(next.saturating_sub(nominal_ms)),
            Search::Excluded(_) | Search::End => self.jitter_ms,
        };
        let digest = Sha256::new()
            .chain_update(schedule.as_bytes())
            .chain_update([0])
            .chain_update(nominal_ms.to_be_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first) % most.saturating_add(1)
    }
}

/// A nominal time as execution ids and tables show it:
/// `2026-11-30T02:00:00Z` (milliseconds only when it has some).
pub fn nominal_text(ms: u64) -> String {
    match i64::try_from(ms).ok().and_then(timestamp) {
        Some(ts) if ms.is_multiple_of(1000) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u64 {
        ms_of(text.parse::<Timestamp>().unwrap())
    }

    fn spec(cron: &str, zone: &str) -> CompiledSpec {
        compile(&ScheduleSpec {
            cron: vec![cron.into()],
            time_zone: Some(zone.into()),
            ..ScheduleSpec::default()
        })
        .unwrap()
    }

    #[test]
    fn a_skipped_clock_time_does_not_happen_and_a_repeated_one_happens_twice() {
        // Berlin, 2026-03-29: 02:00 -> 03:00; 2026-10-25: 03:00 -> 02:00.
        let s = spec("30 2 * * *", "Europe/Berlin");
        let spring = s.times_between(ms("2026-03-27T12:00:00Z"), ms("2026-03-30T12:00:00Z"), 10);
        assert_eq!(
            spring,
            vec![
                ms("2026-03-28T01:30:00Z"),
                // 29 March has no 02:30.
                ms("2026-03-30T00:30:00Z"),
            ]
        );
        let autumn = s.times_between(ms("2026-10-24T12:00:00Z"), ms("2026-10-26T12:00:00Z"), 10);
        assert_eq!(
            autumn,
            vec![
                // 25 October has 02:30 twice: summer time, then winter time.
                ms("2026-10-25T00:30:00Z"),
                ms("2026-10-25T01:30:00Z"),
                ms("2026-10-26T01:30:00Z"),
            ]
        );
    }

    #[test]
    fn every_time_in_a_repeated_hour_comes_in_instant_order() {
        // Berlin, 2026-10-25: 03:00 summer time -> 02:00 winter time.
        let s = spec("*/30 * * * *", "Europe/Berlin");
        assert_eq!(
            s.times_between(ms("2026-10-25T00:00:00Z"), ms("2026-10-25T02:00:00Z"), 10),
            vec![
                ms("2026-10-25T00:30:00Z"), // 02:30 summer time
                ms("2026-10-25T01:00:00Z"), // 02:00 winter time
                ms("2026-10-25T01:30:00Z"), // 02:30 winter time
                ms("2026-10-25T02:00:00Z"), // 03:00
            ]
        );
    }

    #[test]
    fn a_cron_of_seconds_has_its_next_time() {
        let s = spec("*/10 * * * * *", "Europe/Berlin");
        let at = ms("2026-06-01T12:00:03Z");
        assert_eq!(s.next_after(at), Some(ms("2026-06-01T12:00:10Z")));
        assert_eq!(s.times_between(at, at + 60_000, 100).len(), 6);
    }

    #[test]
    fn intervals_count_from_the_epoch_plus_their_offset_and_exclusions_apply() {
        let s = compile(&ScheduleSpec {
            cron: vec!["@every 1h/5m".into()],
            exclude_calendars: vec![CalendarSpec {
                minute: Some("5".into()),
                hour: Some("3".into()),
                ..CalendarSpec::default()
            }],
            ..ScheduleSpec::default()
        })
        .unwrap();
        assert_eq!(
            s.times_between(ms("2026-01-01T01:30:00Z"), ms("2026-01-01T04:30:00Z"), 10),
            vec![ms("2026-01-01T02:05:00Z"), ms("2026-01-01T04:05:00Z")]
        );
    }

    #[test]
    fn a_search_stops_in_a_long_exclusion_and_goes_on_from_where_it_stopped() {
        let s = compile(&ScheduleSpec {
            intervals: vec![IntervalSpec {
                every_ms: 1_000,
                offset_ms: 0,
            }],
            exclude_cron: vec!["* * * * * sat,sun".into()],
            ..ScheduleSpec::default()
        })
        .unwrap();
        // Friday 2026-12-04 23:59:59, then a weekend of excluded seconds.
        let friday = ms("2026-12-04T23:59:59Z");
        let took = std::time::Instant::now();
        let Search::Excluded(last) = s.search(friday) else {
            panic!("the weekend's first 100,000 seconds are excluded");
        };
        assert_eq!(last, friday + SEARCH_LIMIT as u64 * 1_000);
        assert_eq!(s.search(last), Search::At(ms("2026-12-07T00:00:00Z")));
        // A listing goes across the gap.
        assert_eq!(
            s.times_between(friday, u64::MAX, 2),
            vec![ms("2026-12-07T00:00:00Z"), ms("2026-12-07T00:00:01Z")]
        );
        eprintln!("two searches over a weekend took {:?}", took.elapsed());
    }

    #[test]
    fn bad_specs_name_the_field() {
        let err = |spec: ScheduleSpec| compile(&spec).err().unwrap().0;
        assert!(err(ScheduleSpec {
            cron: vec!["* * *".into()],
            ..ScheduleSpec::default()
        })
        .starts_with("spec.cron[0]:"));
        let e = err(ScheduleSpec {
            cron: vec!["0 25 * * *".into()],
            ..ScheduleSpec::default()
        });
        assert!(e.contains("its hour field \"25\""), "{e}");
        // A range that wraps the week: named, with what to write instead.
        let e = err(ScheduleSpec {
            cron: vec!["@daily".into()],
            exclude_cron: vec!["* * * * * sat-mon".into()],
            ..ScheduleSpec::default()
        });
        assert!(
            e.contains("its day-of-week field \"sat-mon\"") && e.contains("`sat,sun,mon`"),
            "{e}"
        );
        let e = err(ScheduleSpec {
            calendars: vec![CalendarSpec {
                hour: Some("25".into()),
                ..CalendarSpec::default()
            }],
            ..ScheduleSpec::default()
        });
        assert!(e.starts_with("spec.calendars[0].hour:"), "{e}");
        let e = err(ScheduleSpec {
            cron: vec!["@daily".into()],
            time_zone: Some("Mars/Olympus".into()),
            ..ScheduleSpec::default()
        });
        assert!(e.starts_with("spec.time_zone:"), "{e}");
        assert!(err(ScheduleSpec::default()).contains("names no time"));
        let e = err(ScheduleSpec {
            cron: vec!["@daily".into()],
            jitter_ms: u64::MAX,
            ..ScheduleSpec::default()
        });
        assert!(e.starts_with("spec.jitter_ms:"), "{e}");
    }

    #[test]
    fn jitter_is_stable_and_within_bounds() {
        let s = compile(&ScheduleSpec {
            cron: vec!["@hourly".into()],
            jitter_ms: 60_000,
            ..ScheduleSpec::default()
        })
        .unwrap();
        let j: Vec<u64> = (0..50)
            .map(|i| s.jitter("nightly", i * 3_600_000))
            .collect();
        assert!(j.iter().all(|j| *j <= 60_000));
        assert!(j.iter().any(|j| *j > 0), "some jitter: {j:?}");
        assert_eq!(s.jitter("nightly", 7_200_000), j[2]);
    }
}
