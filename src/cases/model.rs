//! The case data model and its state machine.
//!
//! A *case* starts as a `candidate` the analysis stage proposed; a person confirms or rejects it
//! (or sends it to the grid inspector first), confirmed cases are submitted to the city's case
//! system, and that system reports its own stages back. [`TRANSITIONS`] is the whole workflow
//! as data; [`check_transition`] is the only place that decides whether a move is allowed.
//!
//! Plain data only: no I/O and no clock. Times are [`SystemTime`] here and Unix milliseconds
//! (UTC) in the database, so they round-trip at millisecond precision ([`unix_millis`],
//! [`from_unix_millis`]). This module may use `crate::domain` and nothing else of the crate.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::domain::{BBox, CameraId};

/// The actor recorded on events the service writes by itself (`created`, and `reclassified`
/// when analysis refines a candidate's category).
pub const SYSTEM_ACTOR: &str = "system";

/// A case's id in the store (assigned by the database, increasing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub i64);

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a case is in the workflow.
///
/// The first five are ours; `filed` … `closed` are reported back by the case system;
/// `verified_by_video` is ours again (a video re-check after `handled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Proposed by analysis; waits for a person (线索, never a filed case by itself).
    Candidate,
    /// A person confirmed it; it will be submitted to the case system.
    Confirmed,
    /// A person rejected it (false detection, permitted stall, …). Terminal.
    Rejected,
    /// Sent to the grid's inspector (网格员) to look on site before deciding.
    FieldCheck,
    /// Delivered to the case system; its external id is recorded.
    Submitted,
    /// The case system opened a case file (案卷建立).
    Filed,
    /// The case system dispatched it to the responsible department (任务派遣).
    Dispatched,
    /// The department reports it handled (问题处置 / 处理反馈).
    Handled,
    /// The case system closed it (核实结案). Terminal.
    Closed,
    /// After `handled`, a video re-check attached a "cleared" or "still present" frame.
    VerifiedByVideo,
}

/// Every allowed move, as a table: `(from, [to…])`. States absent on the left have no way out.
///
/// Reclassification is not a move: it keeps the state (see [`CaseState::can_reclassify`]).
pub const TRANSITIONS: &[(CaseState, &[CaseState])] = {
    use CaseState::*;
    &[
        (Candidate, &[Confirmed, Rejected, FieldCheck]),
        (FieldCheck, &[Confirmed, Rejected]),
        (Confirmed, &[Submitted]),
        (Submitted, &[Filed, Dispatched, Handled, Closed]),
        (Filed, &[Dispatched, Handled, Closed]),
        (Dispatched, &[Handled, Closed]),
        (Handled, &[VerifiedByVideo, Closed]),
        (VerifiedByVideo, &[Closed]),
    ]
};

impl CaseState {
    /// All states, in workflow order.
    pub const ALL: [CaseState; 10] = [
        CaseState::Candidate,
        CaseState::FieldCheck,
        CaseState::Confirmed,
        CaseState::Rejected,
        CaseState::Submitted,
        CaseState::Filed,
        CaseState::Dispatched,
        CaseState::Handled,
        CaseState::VerifiedByVideo,
        CaseState::Closed,
    ];

    /// The name used in the database, the API and messages (`field_check`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Candidate => "candidate",
            CaseState::Confirmed => "confirmed",
            CaseState::Rejected => "rejected",
            CaseState::FieldCheck => "field_check",
            CaseState::Submitted => "submitted",
            CaseState::Filed => "filed",
            CaseState::Dispatched => "dispatched",
            CaseState::Handled => "handled",
            CaseState::Closed => "closed",
            CaseState::VerifiedByVideo => "verified_by_video",
        }
    }

    /// The states this one may move to, from [`TRANSITIONS`].
    pub fn next_states(self) -> &'static [CaseState] {
        TRANSITIONS
            .iter()
            .find(|(from, _)| *from == self)
            .map_or(&[], |(_, to)| *to)
    }

    /// Whether [`TRANSITIONS`] allows `self → to`.
    pub fn can_go_to(self, to: CaseState) -> bool {
        self.next_states().contains(&to)
    }

    /// No way out: `rejected`, `closed`.
    pub fn is_terminal(self) -> bool {
        self.next_states().is_empty()
    }

    /// Waiting for a person (`candidate`, `field_check`): what a restarted analysis stage must
    /// know about so it does not propose the same thing again.
    pub fn is_open_candidate(self) -> bool {
        matches!(self, CaseState::Candidate | CaseState::FieldCheck)
    }

    /// Category and event code may still change: before the case leaves for the case system.
    pub fn can_reclassify(self) -> bool {
        matches!(
            self,
            CaseState::Candidate | CaseState::FieldCheck | CaseState::Confirmed
        )
    }

    /// The case system knows about the case (or is about to): `confirmed` and every state after
    /// `submitted`. External ids and status callbacks are accepted only here.
    pub fn accepts_external(self) -> bool {
        !matches!(
            self,
            CaseState::Candidate | CaseState::FieldCheck | CaseState::Rejected
        )
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseState {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "case state",
                name: s.to_owned(),
            })
    }
}

/// A name that is not one of an enum's names (state, event kind, evidence kind).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    /// What was being parsed (`case state`, …).
    pub what: &'static str,
    /// The text that did not match.
    pub name: String,
}

/// A move the workflow does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("case {id}: cannot go from {from} to {to}")]
pub struct TransitionError {
    pub id: CaseId,
    pub from: CaseState,
    pub to: CaseState,
}

/// Checks `from → to` against [`TRANSITIONS`].
pub fn check_transition(id: CaseId, from: CaseState, to: CaseState) -> Result<(), TransitionError> {
    if from.can_go_to(to) {
        Ok(())
    } else {
        Err(TransitionError { id, from, to })
    }
}

/// Luohe's three cards, from how often the same thing was found at the same spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// First notice (recurrence count 0 or 1).
    Blue,
    /// Not fixed in time (count 2).
    Yellow,
    /// Third time or more: enforcement (count ≥ 3).
    Red,
}

impl Escalation {
    /// `recurrence_count` counts occurrences including this one: 1 blue, 2 yellow, ≥ 3 red
    /// (0, "not counted", is treated as the first).
    pub fn from_recurrence_count(count: u32) -> Self {
        match count {
            0 | 1 => Escalation::Blue,
            2 => Escalation::Yellow,
            _ => Escalation::Red,
        }
    }

    /// `blue`, `yellow`, `red`.
    pub fn as_str(self) -> &'static str {
        match self {
            Escalation::Blue => "blue",
            Escalation::Yellow => "yellow",
            Escalation::Red => "red",
        }
    }
}

/// What an evidence file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A full frame with the box drawn.
    Frame,
    /// A crop around the object.
    Crop,
    /// A short video clip.
    Clip,
    /// The same full frame without the box: what a training set needs (`dataset export`).
    Scene,
}

impl EvidenceKind {
    /// Every kind.
    pub const ALL: [EvidenceKind; 4] = [
        EvidenceKind::Frame,
        EvidenceKind::Crop,
        EvidenceKind::Clip,
        EvidenceKind::Scene,
    ];

    /// `frame`, `crop`, `clip`, `scene`.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Frame => "frame",
            EvidenceKind::Crop => "crop",
            EvidenceKind::Clip => "clip",
            EvidenceKind::Scene => "scene",
        }
    }
}

impl FromStr for EvidenceKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EvidenceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "evidence kind",
                name: s.to_owned(),
            })
    }
}

/// An evidence file to attach, already written under the data directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvidence {
    pub kind: EvidenceKind,
    /// Relative to the data directory, `/`-separated, no `..` (e.g. `evidence/2024/05/17/3.jpg`).
    pub path: String,
    /// SHA-256 of the file, 64 lower-case hex digits.
    pub sha256: String,
    /// File size.
    pub bytes: u64,
    /// MIME type (`image/jpeg`, `video/mp4`).
    pub mime: String,
}

/// An evidence row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub id: i64,
    pub case_id: CaseId,
    pub kind: EvidenceKind,
    /// Relative to the data directory.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub mime: String,
    pub created_at: SystemTime,
}

/// What analysis proposes. Inserting the same `dedupe_key` twice returns the existing case.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCandidate {
    /// Identifies the proposal across restarts, e.g. `cam-3/track-812/1715900000000`
    /// (camera + analysis candidate id + arrival). A re-sent proposal after a crash or SIGKILL
    /// finds its case instead of making a second one.
    pub dedupe_key: String,
    pub camera: CameraId,
    /// Internal category (`street_vending`, `illegal_signage.poster`, …).
    pub category: String,
    /// The city's event code for the category (`0501`, `04-01`, …).
    pub event_code: String,
    /// The city's event name (`无照经营游商`).
    pub event_name: String,
    /// Detector confidence in 0..=1.
    pub score: f32,
    /// Box normalised to 0..=1 of the frame's width and height.
    pub bbox: BBox,
    /// WGS84 degrees, when the camera is calibrated.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Unit-grid code (CJ/T 213: 14 digits; Beijing: 15).
    pub grid_code: Option<String>,
    /// Community (社区) name.
    pub community: Option<String>,
    /// Street (街道) name.
    pub street: Option<String>,
    /// Responsible unit (责任单位) the grid index names for the spot.
    pub unit: Option<String>,
    /// The camera zone the object stood in (pipeline config zone id).
    pub zone: Option<String>,
    /// When the object arrived (dwell started).
    pub arrived_at: SystemTime,
    /// When analysis decided it is a case (dwell threshold reached).
    pub detected_at: SystemTime,
    /// The earlier case at the same spot this one repeats.
    pub recurrence_of: Option<CaseId>,
    /// Occurrences at this spot including this one (1 = first); see [`Escalation`].
    pub recurrence_count: u32,
    /// Evidence files, stored with the case in the same transaction.
    pub evidence: Vec<NewEvidence>,
}

/// A case as stored. Evidence rows are fetched separately (`CaseStore::evidence`).
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: CaseId,
    pub state: CaseState,
    pub dedupe_key: String,
    pub camera: CameraId,
    pub category: String,
    pub event_code: String,
    pub event_name: String,
    pub score: f32,
    /// Normalised to 0..=1.
    pub bbox: BBox,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub grid_code: Option<String>,
    pub community: Option<String>,
    pub street: Option<String>,
    pub unit: Option<String>,
    pub zone: Option<String>,
    pub arrived_at: SystemTime,
    pub detected_at: SystemTime,
    pub recurrence_of: Option<CaseId>,
    pub recurrence_count: u32,
    /// When the store took the candidate in.
    pub created_at: SystemTime,
    /// Last change of any kind (state, category, note, external status, evidence).
    pub updated_at: SystemTime,
    /// The case system's id once submitted.
    pub external_id: Option<String>,
    /// Notes added by people, one per line, oldest first (who and when: see the events).
    pub notes: String,
}

impl Case {
    /// The card colour from [`Case::recurrence_count`].
    pub fn escalation(&self) -> Escalation {
        Escalation::from_recurrence_count(self.recurrence_count)
    }
}

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The candidate was stored (`to_state` = `candidate`).
    Created,
    /// A person (or the service) moved the case.
    Transition,
    /// Category / event code changed; `data` holds `from` and `to`.
    Reclassified,
    /// A note; `data.text` holds it.
    Note,
    /// A callback from the case system: external id and its status (state may change).
    ExternalStatus,
    /// Evidence files added after creation (e.g. a video re-check frame); `data.evidence` holds
    /// their ids.
    Evidence,
}

impl EventKind {
    /// The name used in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Transition => "transition",
            EventKind::Reclassified => "reclassified",
            EventKind::Note => "note",
            EventKind::ExternalStatus => "external_status",
            EventKind::Evidence => "evidence",
        }
    }
}

impl FromStr for EventKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            EventKind::Created,
            EventKind::Transition,
            EventKind::Reclassified,
            EventKind::Note,
            EventKind::ExternalStatus,
            EventKind::Evidence,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
        .ok_or_else(|| UnknownName {
            what: "event kind",
            name: s.to_owned(),
        })
    }
}

/// One entry of a case's timeline, and one item of the delivery feed.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    /// Global and increasing in commit order: the outbox cursor (`events_after`).
    pub id: i64,
    pub case_id: CaseId,
    pub at: SystemTime,
    /// Who did it: a user name, `system`, or the case system's name.
    pub actor: String,
    pub kind: EventKind,
    /// State before (None for `created`); equals `to_state` for events that keep the state.
    pub from_state: Option<CaseState>,
    /// State after.
    pub to_state: Option<CaseState>,
    pub reason: Option<String>,
    /// Kind-specific details (JSON object).
    pub data: serde_json::Value,
}

/// Milliseconds since the Unix epoch (UTC); negative before 1970. Sub-millisecond parts are
/// dropped (rounded towards the past).
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            // Round towards the past so that from_unix_millis(unix_millis(t)) <= t.
            if d.subsec_nanos() % 1_000_000 == 0 {
                -ms
            } else {
                -ms - 1
            }
        }
    }
}

/// The inverse of [`unix_millis`].
pub fn from_unix_millis(ms: i64) -> SystemTime {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_table_matches_the_workflow() {
        use CaseState::*;
        let allowed: Vec<(CaseState, CaseState)> = CaseState::ALL
            .into_iter()
            .flat_map(|from| {
                CaseState::ALL
                    .into_iter()
                    .filter(move |to| from.can_go_to(*to))
                    .map(move |to| (from, to))
            })
            .collect();
        let expected = [
            (Candidate, FieldCheck),
            (Candidate, Confirmed),
            (Candidate, Rejected),
            (FieldCheck, Confirmed),
            (FieldCheck, Rejected),
            (Confirmed, Submitted),
            (Submitted, Filed),
            (Submitted, Dispatched),
            (Submitted, Handled),
            (Submitted, Closed),
            (Filed, Dispatched),
            (Filed, Handled),
            (Filed, Closed),
            (Dispatched, Handled),
            (Dispatched, Closed),
            (Handled, VerifiedByVideo),
            (Handled, Closed),
            (VerifiedByVideo, Closed),
        ];
        assert_eq!(allowed.len(), expected.len(), "{allowed:?}");
        for pair in expected {
            assert!(allowed.contains(&pair), "missing {pair:?}");
        }
        assert!(Rejected.is_terminal() && Closed.is_terminal());
        assert!(!Candidate.can_go_to(Candidate), "no self-loops");
    }

    #[test]
    fn refused_transition_says_which_case_and_states() {
        let err = check_transition(CaseId(17), CaseState::Rejected, CaseState::Confirmed)
            .expect_err("rejected is terminal");
        assert_eq!(
            err.to_string(),
            "case 17: cannot go from rejected to confirmed"
        );
    }

    #[test]
    fn names_round_trip() {
        for state in CaseState::ALL {
            assert_eq!(state.as_str().parse::<CaseState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert!("open".parse::<CaseState>().is_err());
        for kind in ["frame", "crop", "clip", "scene"] {
            assert_eq!(kind.parse::<EvidenceKind>().unwrap().as_str(), kind);
        }
        for kind in EvidenceKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!("thumbnail".parse::<EvidenceKind>().is_err());
        for kind in [
            "created",
            "transition",
            "reclassified",
            "note",
            "external_status",
            "evidence",
        ] {
            assert_eq!(kind.parse::<EventKind>().unwrap().as_str(), kind);
        }
    }

    #[test]
    fn escalation_follows_the_three_cards() {
        assert_eq!(Escalation::from_recurrence_count(0), Escalation::Blue);
        assert_eq!(Escalation::from_recurrence_count(1), Escalation::Blue);
        assert_eq!(Escalation::from_recurrence_count(2), Escalation::Yellow);
        assert_eq!(Escalation::from_recurrence_count(3), Escalation::Red);
        assert_eq!(Escalation::from_recurrence_count(9), Escalation::Red);
    }

    #[test]
    fn millis_round_trip() {
        for ms in [0, 1, 1_715_900_000_123, -1, -1_500] {
            assert_eq!(unix_millis(from_unix_millis(ms)), ms);
        }
        let t = UNIX_EPOCH + Duration::new(5, 999_999);
        assert_eq!(unix_millis(t), 5_000);
        let before = UNIX_EPOCH - Duration::from_micros(1_500);
        assert_eq!(unix_millis(before), -2);
    }
}
