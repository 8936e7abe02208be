//! Time of day: weekly [`TimeWindow`]s evaluated in the city's time zone, and the serde helpers
//! the analysis types use for instants, durations and boxes.
//!
//! Pure: nothing here reads the clock; every instant is passed in by the caller.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A daily window of local time, optionally restricted to some weekdays.
///
/// `start` is inclusive and `end` exclusive. When `end` is earlier than `start` the window crosses
/// midnight (22:00–02:00); `weekdays` then names the day the window *starts* on, so a Friday
/// 22:00–02:00 window also covers Saturday 01:00. `start == end` covers the whole day. An empty
/// `weekdays` list means every day.
///
/// JSON: `{"weekdays": ["Mon", "Tue"], "start": "18:00", "end": "23:00"}` (seconds optional,
/// weekday names short or long).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl TimeWindow {
    /// A window on every day of the week.
    pub fn daily(start: NaiveTime, end: NaiveTime) -> Self {
        Self {
            weekdays: Vec::new(),
            start,
            end,
        }
    }

    fn on(&self, day: Weekday) -> bool {
        self.weekdays.is_empty() || self.weekdays.contains(&day)
    }

    /// Whether the local date-time falls inside the window.
    pub fn contains_local(&self, local: NaiveDateTime) -> bool {
        let day = local.weekday();
        let time = local.time();
        if self.start == self.end {
            self.on(day)
        } else if self.start < self.end {
            self.on(day) && self.start <= time && time < self.end
        } else {
            (self.on(day) && time >= self.start) || (self.on(day.pred()) && time < self.end)
        }
    }

    /// Whether the instant `t` falls inside the window, in the time zone `tz`.
    pub fn contains(&self, t: SystemTime, tz: Tz) -> bool {
        self.contains_local(local_time(t, tz))
    }
}

/// Whether any of `windows` contains `t` in `tz`.
pub fn any_contains(windows: &[TimeWindow], t: SystemTime, tz: Tz) -> bool {
    let local = local_time(t, tz);
    windows.iter().any(|w| w.contains_local(local))
}

/// The wall-clock date-time of `t` in `tz`.
pub fn local_time(t: SystemTime, tz: Tz) -> NaiveDateTime {
    DateTime::<Utc>::from(t).with_timezone(&tz).naive_local()
}

/// `later - earlier`, or zero when `later` is not after `earlier`.
pub(crate) fn since(later: SystemTime, earlier: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or(Duration::ZERO)
}

/// Serde for `SystemTime` as an RFC 3339 string (`2026-11-25T02:00:00Z`).
pub(crate) mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        DateTime::<Utc>::from(*t).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let dt = DateTime::<chrono::FixedOffset>::deserialize(d)?;
        Ok(SystemTime::from(dt))
    }
}

/// Serde for `Duration` as a number of seconds (fractions allowed).
pub(crate) mod secs {
    use super::*;
    use serde::{de::Error as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_nanos() == 0 {
            s.serialize_u64(d.as_secs())
        } else {
            s.serialize_f64(d.as_secs_f64())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v)
            .map_err(|e| D::Error::custom(format!("invalid duration {v} s: {e}")))
    }
}

/// Serde for `BBox` as `[x1, y1, x2, y2]`.
pub(crate) mod bbox {
    use crate::domain::BBox;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(b: &BBox, s: S) -> Result<S::Ok, S::Error> {
        [b.x1, b.y1, b.x2, b.y2].serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BBox, D::Error> {
        let [x1, y1, x2, y2] = <[f32; 4]>::deserialize(d)?;
        Ok(BBox::new(x1, y1, x2, y2))
    }
}

/// Serde for `Vec<BBox>` as a list of `[x1, y1, x2, y2]`.
pub(crate) mod bbox_list {
    use crate::domain::BBox;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[BBox], s: S) -> Result<S::Ok, S::Error> {
        let raw: Vec<[f32; 4]> = v.iter().map(|b| [b.x1, b.y1, b.x2, b.y2]).collect();
        raw.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<BBox>, D::Error> {
        let raw = Vec::<[f32; 4]>::deserialize(d)?;
        Ok(raw
            .into_iter()
            .map(|[x1, y1, x2, y2]| BBox::new(x1, y1, x2, y2))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn plain_window_is_half_open() {
        let w = TimeWindow::daily(hm(18, 0), hm(23, 0));
        assert!(!w.contains_local(at(2026, 11, 25, 17, 59)));
        assert!(w.contains_local(at(2026, 11, 25, 18, 0)));
        assert!(w.contains_local(at(2026, 11, 25, 22, 59)));
        assert!(!w.contains_local(at(2026, 11, 25, 23, 0)));
    }

    #[test]
    fn window_across_midnight_belongs_to_its_start_day() {
        // 2026-11-27 is a Friday.
        let w = TimeWindow {
            weekdays: vec![Weekday::Fri],
            start: hm(22, 0),
            end: hm(2, 0),
        };
        assert!(w.contains_local(at(2026, 11, 27, 23, 0)));
        assert!(w.contains_local(at(2026, 11, 28, 1, 30)));
        assert!(!w.contains_local(at(2026, 11, 28, 2, 0)));
        assert!(!w.contains_local(at(2026, 11, 27, 1, 30)));
        assert!(!w.contains_local(at(2026, 11, 28, 23, 0)));
    }

    #[test]
    fn equal_start_and_end_is_whole_day() {
        let w = TimeWindow {
            weekdays: vec![Weekday::Sat, Weekday::Sun],
            start: hm(0, 0),
            end: hm(0, 0),
        };
        assert!(w.contains_local(at(2026, 11, 28, 13, 0)));
        assert!(!w.contains_local(at(2026, 11, 27, 13, 0)));
    }

    #[test]
    fn evaluated_in_city_time_zone() {
        let w = TimeWindow::daily(hm(18, 0), hm(23, 0));
        // 2026-11-25T11:00:00Z is 19:00 in Shanghai.
        let t: SystemTime = "2026-11-25T11:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
            .into();
        assert!(w.contains(t, chrono_tz::Asia::Shanghai));
        assert!(!w.contains(t, chrono_tz::UTC));
    }

    #[test]
    fn window_json() {
        let w: TimeWindow = serde_json::from_str(
            r#"{"weekdays": ["Mon", "friday"], "start": "07:00", "end": "08:30:15"}"#,
        )
        .unwrap();
        assert_eq!(w.weekdays, vec![Weekday::Mon, Weekday::Fri]);
        assert_eq!(w.end, NaiveTime::from_hms_opt(8, 30, 15).unwrap());
    }
}
