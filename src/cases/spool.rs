//! The spool: candidates on their way into the store, one JSON file each under
//! `DATA_DIR/spool/`.
//!
//! A candidate is written here before the store is asked and removed once the store has it. So
//! a store that is down loses no candidate, and neither does a process killed while it waits:
//! the next start stores what it finds here before any camera runs. The dedupe key makes a
//! second insert of a candidate the store already took find the first.
//!
//! Files are written to a temporary name and renamed, so a file is whole or absent. A file that
//! cannot be read back is set aside as `*.bad`, never deleted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::{from_unix_millis, unix_millis, CaseId, NewCandidate, NewEvidence};
use crate::domain::{BBox, CameraId};

/// The spool folder of one data directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// A spooled candidate: where it lies and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Spooled {
    pub path: PathBuf,
    pub candidate: NewCandidate,
    /// The dedupe key of the case this one recurs after, when that case was not stored yet
    /// as this one was spooled (so `candidate.recurrence_of` could not name it).
    pub recurrence_of_key: Option<String>,
}

/// What the spool holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contents {
    /// Candidates waiting, oldest detection first.
    pub waiting: Vec<Spooled>,
    /// Files that could not be read, renamed to `*.bad`, with the reason.
    pub set_aside: Vec<(PathBuf, String)>,
}

impl Spool {
    /// The spool of `data_dir` (`DATA_DIR/spool`); nothing is created until a candidate comes.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("spool"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `candidate`, replacing an earlier file of the same dedupe key. `recurrence_of_key`
    /// names the earlier visit it recurs after, so the link survives when neither is stored
    /// yet.
    pub fn put(
        &self,
        candidate: &NewCandidate,
        recurrence_of_key: Option<&str>,
    ) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let name = crate::inference::manifest::hex(&Sha256::digest(&candidate.dedupe_key));
        let path = self.dir.join(format!("{name}.json"));
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let file = File {
            recurrence_of_key: recurrence_of_key.map(str::to_owned),
            ..File::from(candidate)
        };
        let json = serde_json::to_vec_pretty(&file)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// How many candidates wait (files are counted, not read).
    pub fn waiting(&self) -> std::io::Result<usize> {
        match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
            Ok(mut entries) => entries.try_fold(0, |n, entry| {
                let json = entry?.path().extension().is_some_and(|x| x == "json");
                Ok(n + usize::from(json))
            }),
        }
    }

    /// Keeps a candidate the store refused for good (it is not valid) beside the spool, as
    /// `*.json.refused`, for a person to look at; returns the new path.
    pub fn set_aside(&self, path: &Path) -> std::io::Result<PathBuf> {
        let aside = path.with_extension("json.refused");
        std::fs::rename(path, &aside)?;
        Ok(aside)
    }

    /// Forgets a candidate the store has taken.
    pub fn remove(&self, path: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The candidates waiting. Files that cannot be read are renamed to `*.bad` and listed.
    pub fn pending(&self) -> std::io::Result<Contents> {
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
            other => other?,
        };
        let (mut found, mut bad) = (Vec::new(), Vec::new());
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let read = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<File>(&bytes).map_err(|e| e.to_string())
                });
            match read {
                Ok(mut file) => found.push(Spooled {
                    path,
                    recurrence_of_key: file.recurrence_of_key.take(),
                    candidate: file.into(),
                }),
                Err(reason) => {
                    let aside = path.with_extension("json.bad");
                    std::fs::rename(&path, &aside)?;
                    bad.push((aside, reason));
                }
            }
        }
        found.sort_by(|a, b| {
            (a.candidate.detected_at, &a.candidate.dedupe_key)
                .cmp(&(b.candidate.detected_at, &b.candidate.dedupe_key))
        });
        Ok(Contents {
            waiting: found,
            set_aside: bad,
        })
    }
}

/// The file format: [`NewCandidate`] with plain numbers for the box and the times.
#[derive(Serialize, Deserialize)]
struct File {
    dedupe_key: String,
    camera: String,
    category: String,
    event_code: String,
    event_name: String,
    score: f32,
    /// `[x1, y1, x2, y2]`, normalised.
    bbox: [f32; 4],
    lat: Option<f64>,
    lon: Option<f64>,
    grid_code: Option<String>,
    community: Option<String>,
    street: Option<String>,
    unit: Option<String>,
    zone: Option<String>,
    /// Unix milliseconds.
    arrived_at: i64,
    detected_at: i64,
    recurrence_of: Option<i64>,
    /// Absent in files written before it existed.
    #[serde(default)]
    recurrence_of_key: Option<String>,
    recurrence_count: u32,
    evidence: Vec<NewEvidence>,
}

impl From<&NewCandidate> for File {
    fn from(c: &NewCandidate) -> Self {
        Self {
            dedupe_key: c.dedupe_key.clone(),
            camera: c.camera.as_str().to_owned(),
            category: c.category.clone(),
            event_code: c.event_code.clone(),
            event_name: c.event_name.clone(),
            score: c.score,
            bbox: [c.bbox.x1, c.bbox.y1, c.bbox.x2, c.bbox.y2],
            lat: c.lat,
            lon: c.lon,
            grid_code: c.grid_code.clone(),
            community: c.community.clone(),
            street: c.street.clone(),
            unit: c.unit.clone(),
            zone: c.zone.clone(),
            arrived_at: unix_millis(c.arrived_at),
            detected_at: unix_millis(c.detected_at),
            recurrence_of: c.recurrence_of.map(|id| id.0),
            recurrence_of_key: None,
            recurrence_count: c.recurrence_count,
            evidence: c.evidence.clone(),
        }
    }
}

impl From<File> for NewCandidate {
    fn from(f: File) -> Self {
        let [x1, y1, x2, y2] = f.bbox;
        Self {
            dedupe_key: f.dedupe_key,
            camera: CameraId::new(&f.camera),
            category: f.category,
            event_code: f.event_code,
            event_name: f.event_name,
            score: f.score,
            bbox: BBox::new(x1, y1, x2, y2),
            lat: f.lat,
            lon: f.lon,
            grid_code: f.grid_code,
            community: f.community,
            street: f.street,
            unit: f.unit,
            zone: f.zone,
            arrived_at: from_unix_millis(f.arrived_at),
            detected_at: from_unix_millis(f.detected_at),
            recurrence_of: f.recurrence_of.map(CaseId),
            recurrence_count: f.recurrence_count,
            evidence: f.evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::model::EvidenceKind;

    fn candidate(key: &str, detected_ms: i64) -> NewCandidate {
        NewCandidate {
            dedupe_key: key.to_owned(),
            camera: CameraId::new("cam-1"),
            category: "sidewalk_stacking".into(),
            event_code: "0504".into(),
            event_name: "占道堆物".into(),
            score: 0.75,
            bbox: BBox::new(0.1, 0.5, 0.25, 0.75),
            lat: Some(31.231),
            lon: Some(121.474),
            grid_code: Some("31010100100101".into()),
            community: None,
            street: Some("南京东路街道".into()),
            unit: None,
            zone: Some("sidewalk".into()),
            arrived_at: from_unix_millis(1_800_000_000_000),
            detected_at: from_unix_millis(detected_ms),
            recurrence_of: Some(CaseId(7)),
            recurrence_count: 2,
            evidence: vec![NewEvidence {
                kind: EvidenceKind::Frame,
                path: "evidence/ab/abc.jpg".into(),
                sha256: "ab".repeat(32),
                bytes: 1234,
                mime: "image/jpeg".into(),
            }],
        }
    }

    #[test]
    fn candidates_come_back_whole_oldest_first_and_bad_files_are_set_aside() {
        let dir = std::env::temp_dir().join(format!("gridsight-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spool = Spool::new(&dir);
        assert_eq!(spool.pending().unwrap(), Contents::default());
        assert_eq!(spool.waiting().unwrap(), 0);

        let later = candidate("cam-1/2/1800000000000", 1_800_000_900_000);
        let earlier = candidate("cam-1/1/1800000000000", 1_800_000_600_000);
        let later_path = spool.put(&later, Some(&earlier.dedupe_key)).unwrap();
        let earlier_path = spool.put(&earlier, None).unwrap();
        // Written again (a retry): still one file.
        assert_eq!(spool.put(&earlier, None).unwrap(), earlier_path);
        std::fs::write(spool.dir().join("torn.json"), b"{\"dedupe_key\": ").unwrap();
        assert_eq!(spool.waiting().unwrap(), 3);

        let Contents {
            waiting,
            set_aside: bad,
        } = spool.pending().unwrap();
        assert_eq!(
            waiting,
            vec![
                Spooled {
                    path: earlier_path.clone(),
                    candidate: earlier.clone(),
                    recurrence_of_key: None,
                },
                Spooled {
                    path: later_path,
                    candidate: later,
                    recurrence_of_key: Some(earlier.dedupe_key),
                },
            ]
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(spool.waiting().unwrap(), 2, "the torn file is set aside");
        assert!(bad[0].0.ends_with("torn.json.bad"), "{:?}", bad[0]);
        assert!(bad[0].1.contains("EOF"), "{}", bad[0].1);

        spool.remove(&earlier_path).unwrap();
        spool.remove(&earlier_path).unwrap();
        assert_eq!(spool.pending().unwrap().waiting.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
