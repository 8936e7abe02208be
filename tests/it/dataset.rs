//! `gridsight dataset export` on a real SQLite store with real evidence: the output loads as a YOLO data set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use gridsight::cases::evidence::{write_frame_evidence, Marking};
use gridsight::cases::{CaseId, CaseState, CaseStore, EvidenceKind, NewCandidate};
use gridsight::domain::{BBox, CameraId};

use crate::common::scratch;

const W: u32 = 160;
const H: u32 = 120;

/// A smooth picture that differs per `seed`, so every case has its own evidence files.
fn picture(seed: u32) -> Vec<u8> {
    (0..W * H)
        .flat_map(|i| {
            let (x, y) = (i % W, i / W);
            [
                (x + seed * 37) as u8,
                (y * 2 + seed * 11) as u8,
                ((x + y) / 2 + seed * 53) as u8,
            ]
        })
        .collect()
}

/// Stores a candidate with frame, scene and crop evidence written by `write_frame_evidence`
/// (without the scene when `with_scene` is false: a case from before that kind existed).
async fn candidate(
    store: &dyn CaseStore,
    data: &Path,
    seed: u32,
    category: &str,
    bbox: BBox,
    with_scene: bool,
) -> CaseId {
    let pixels = BBox::new(
        bbox.x1 * W as f32,
        bbox.y1 * H as f32,
        bbox.x2 * W as f32,
        bbox.y2 * H as f32,
    );
    let marking = Marking {
        bbox: pixels,
        class_id: 0,
        label: "0501 占道经营".to_owned(),
    };
    let caption = ["cam-1   2026-11-26 20:07:31 CST".to_owned()];
    let mut evidence = write_frame_evidence(data, &picture(seed), W, H, &marking, &caption)
        .expect("write evidence");
    evidence.retain(|e| with_scene || e.kind != EvidenceKind::Scene);
    let now = SystemTime::now();
    let new = NewCandidate {
        dedupe_key: format!("cam-1/track-{seed}"),
        camera: CameraId::new("cam-1"),
        category: category.to_owned(),
        event_code: "0501".to_owned(),
        event_name: "test".to_owned(),
        score: 0.8,
        bbox,
        lat: None,
        lon: None,
        grid_code: None,
        community: None,
        street: None,
        unit: None,
        zone: None,
        arrived_at: now - Duration::from_secs(300),
        detected_at: now,
        recurrence_of: None,
        recurrence_count: 1,
        evidence,
    };
    store.insert_candidate(new).await.expect("insert").0.id
}

async fn evidence_path(
    store: &dyn CaseStore,
    data: &Path,
    id: CaseId,
    kind: EvidenceKind,
) -> PathBuf {
    let rows = store.evidence(id).await.expect("evidence rows");
    let row = rows
        .iter()
        .find(|e| e.kind == kind)
        .expect("evidence of that kind");
    data.join(&row.path)
}

/// What the test set up: case ids by role, and the files to compare against.
struct Fixture {
    submitted: CaseId,
    reclassified: CaseId,
    rejected: CaseId,
    candidate: CaseId,
    frame_only: CaseId,
    missing: CaseId,
    missing_path: PathBuf,
    static_object: CaseId,
    submitted_scene: PathBuf,
    frame_only_frame: PathBuf,
}

/// Seven cases in a fresh SQLite store under `dir`: one of each kind the export treats apart.
fn build_store(dir: &Path) -> (PathBuf, PathBuf, Fixture) {
    let db = dir.join("cases.db");
    let data = dir.join("data");
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let fixture = tokio.block_on(async {
        let store = gridsight::cases::open(db.to_str().expect("utf-8 path"))
            .await
            .expect("open store");
        let store = store.as_ref();
        let op = "operator-wang";
        let go = move |id, to| async move {
            store
                .transition(id, to, op, None, None)
                .await
                .expect("transition");
        };

        // Confirmed and submitted: a positive from the state after confirmed.
        let submitted = candidate(
            store,
            &data,
            1,
            "street_vending",
            BBox::new(0.25, 0.5, 0.75, 1.0),
            true,
        )
        .await;
        go(submitted, CaseState::Confirmed).await;
        go(submitted, CaseState::Submitted).await;

        // Proposed as vending, corrected to a poster, then confirmed.
        let reclassified = candidate(
            store,
            &data,
            2,
            "street_vending",
            BBox::new(0.1, 0.1, 0.3, 0.4),
            true,
        )
        .await;
        store
            .reclassify(
                reclassified,
                "illegal_signage.poster",
                "0601",
                "poster",
                op,
                None,
            )
            .await
            .expect("reclassify");
        go(reclassified, CaseState::Confirmed).await;

        let rejected = candidate(
            store,
            &data,
            3,
            "sidewalk_stacking",
            BBox::new(0.4, 0.4, 0.6, 0.6),
            true,
        )
        .await;
        go(rejected, CaseState::Rejected).await;

        let candidate_id = candidate(
            store,
            &data,
            4,
            "street_vending",
            BBox::new(0.2, 0.2, 0.4, 0.4),
            true,
        )
        .await;

        // Stored before `scene` evidence existed: only the annotated frame (and crop).
        let frame_only = candidate(
            store,
            &data,
            5,
            "sidewalk_stacking.boxes",
            BBox::new(0.5, 0.2, 0.9, 0.7),
            false,
        )
        .await;
        go(frame_only, CaseState::Confirmed).await;

        // Confirmed, but its picture is gone from the data directory.
        let missing = candidate(
            store,
            &data,
            6,
            "street_vending",
            BBox::new(0.3, 0.3, 0.5, 0.5),
            true,
        )
        .await;
        go(missing, CaseState::Confirmed).await;
        let missing_path = evidence_path(store, &data, missing, EvidenceKind::Scene).await;
        std::fs::remove_file(&missing_path).expect("remove scene");

        // The static-object detector's category is not a class by default.
        let static_object = candidate(
            store,
            &data,
            7,
            "sidewalk_occupation",
            BBox::new(0.1, 0.5, 0.3, 0.9),
            true,
        )
        .await;
        go(static_object, CaseState::Confirmed).await;

        let fixture = Fixture {
            submitted,
            reclassified,
            rejected,
            candidate: candidate_id,
            frame_only,
            missing,
            missing_path,
            static_object,
            submitted_scene: evidence_path(store, &data, submitted, EvidenceKind::Scene).await,
            frame_only_frame: evidence_path(store, &data, frame_only, EvidenceKind::Frame).await,
        };
        store.close().await.expect("close");
        fixture
    });
    (db, data, fixture)
}

fn export(db: &Path, data: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridsight"))
        .args(["dataset", "export", "--store"])
        .arg(db)
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--val-fraction", "0.5"])
        .args(extra)
        .output()
        .expect("run gridsight")
}

/// One label line, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Label {
    class: usize,
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
}

/// Checks `dir` the way a YOLO trainer would load it and returns the labels by file stem.
/// Panics naming every broken rule.
fn load_yolo(dir: &Path) -> (Vec<String>, BTreeMap<String, Vec<Label>>) {
    let yaml = std::fs::read_to_string(dir.join("data.yaml")).expect("data.yaml");
    let field = |key: &str| {
        yaml.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")).map(str::trim))
            .unwrap_or_else(|| panic!("data.yaml has no {key}:\n{yaml}"))
    };
    assert!(!field("path").is_empty());
    assert_eq!(field("train"), "images/train");
    assert_eq!(field("val"), "images/val");
    let nc: usize = field("nc").parse().expect("nc is a number");
    let names: Vec<String> = field("names")
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .expect("names is a [list]")
        .split(',')
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    assert_eq!(nc, names.len(), "nc == len(names)");
    let classes_txt = std::fs::read_to_string(dir.join("classes.txt")).expect("classes.txt");
    assert_eq!(classes_txt.lines().collect::<Vec<_>>(), names);

    let mut labels = BTreeMap::new();
    for split in ["train", "val"] {
        let images = dir.join("images").join(split);
        let label_dir = dir.join("labels").join(split);
        let mut stems = Vec::new();
        for entry in std::fs::read_dir(&images).expect("images dir") {
            let path = entry.expect("entry").path();
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("jpg"),
                "{}",
                path.display()
            );
            let img =
                image::open(&path).unwrap_or_else(|e| panic!("{} decodes: {e}", path.display()));
            assert!(img.width() > 0 && img.height() > 0);
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("stem")
                .to_owned();
            let text = std::fs::read_to_string(label_dir.join(format!("{stem}.txt")))
                .unwrap_or_else(|e| panic!("{split}/{stem}: label file: {e}"));
            let mut lines = Vec::new();
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(f.len(), 5, "{split}/{stem}: {line:?} has 5 fields");
                let class: usize = f[0].parse().expect("class is an integer");
                assert!(class < nc, "{split}/{stem}: class {class} < nc {nc}");
                let v: Vec<f32> = f[1..]
                    .iter()
                    .map(|x| x.parse().expect("a number"))
                    .collect();
                assert!(
                    v.iter().all(|x| (0.0..=1.0).contains(x)),
                    "{split}/{stem}: {line:?} in 0..1"
                );
                assert!(
                    v[2] > 0.0 && v[3] > 0.0,
                    "{split}/{stem}: {line:?} has a size"
                );
                lines.push(Label {
                    class,
                    cx: v[0],
                    cy: v[1],
                    w: v[2],
                    h: v[3],
                });
            }
            assert!(
                labels.insert(stem.clone(), lines).is_none(),
                "{stem} in both splits"
            );
            stems.push(stem);
        }
        // And no label without its image.
        for entry in std::fs::read_dir(&label_dir).expect("labels dir") {
            let path = entry.expect("entry").path();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("stem")
                .to_owned();
            assert!(stems.contains(&stem), "{} has no image", path.display());
        }
    }
    (names, labels)
}

#[test]
fn export_writes_a_loadable_yolo_data_set() {
    let dir = scratch().join("dataset-export");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (db, data, f) = build_store(&dir);
    let out = dir.join("yolo");

    let run = export(&db, &data, &out, &[]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");

    let (names, labels) = load_yolo(&out);
    assert_eq!(
        names,
        ["street_vending", "sidewalk_stacking", "illegal_signage"]
    );
    let class = |name: &str| names.iter().position(|n| n == name).expect("class");
    let of = |id: CaseId| labels.get(&id.to_string());

    // Positive from a state after confirmed: its box, in class street_vending.
    let l = of(f.submitted).expect("submitted case exported");
    assert_eq!(l.len(), 1);
    let want = Label {
        class: class("street_vending"),
        cx: 0.5,
        cy: 0.75,
        w: 0.5,
        h: 0.5,
    };
    assert_eq!(l[0], want);
    // … and its picture is the clean scene, not the frame with the box drawn.
    let split_of = |id: CaseId| {
        ["train", "val"]
            .into_iter()
            .find(|s| {
                out.join("images")
                    .join(s)
                    .join(format!("{id}.jpg"))
                    .is_file()
            })
            .expect("image exported")
    };
    let image_of = |id: CaseId| {
        out.join("images")
            .join(split_of(id))
            .join(format!("{id}.jpg"))
    };
    assert_eq!(
        std::fs::read(image_of(f.submitted)).expect("image"),
        std::fs::read(&f.submitted_scene).expect("scene")
    );

    let l = of(f.reclassified).expect("reclassified case exported");
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].class, class("illegal_signage"), "the corrected class");

    assert_eq!(
        of(f.rejected).map(Vec::len),
        Some(0),
        "hard negative: empty label"
    );
    assert!(of(f.candidate).is_none(), "candidates are not exported");
    assert!(of(f.missing).is_none(), "a missing picture skips the case");
    assert!(
        of(f.static_object).is_none(),
        "sidewalk_occupation is not a class"
    );

    let l = of(f.frame_only).expect("old case exported from its frame");
    assert_eq!(l[0].class, class("sidewalk_stacking"));
    assert_eq!(
        std::fs::read(image_of(f.frame_only)).expect("image"),
        std::fs::read(&f.frame_only_frame).expect("frame")
    );
    assert_eq!(labels.len(), 4, "{labels:?}");

    // The summary and the warning say what happened.
    for line in [
        "exported 4 of 7 cases",
        "  street_vending: 1\n",
        "  sidewalk_stacking: 1\n",
        "  illegal_signage: 1\n",
        "hard negatives (rejected, empty label): 1\n",
        "reclassified by an operator (exported under the corrected class): 1\n",
        "no clean scene stored; the box is drawn in the picture): 1\n",
        "  skipped: 3\n",
        "not reviewed yet (candidate, field_check): 1\n",
        "category sidewalk_occupation is not an exported class",
        "picture file missing or unreadable: 1",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    let train = std::fs::read_dir(out.join("images/train"))
        .expect("train")
        .count();
    let val = std::fs::read_dir(out.join("images/val"))
        .expect("val")
        .count();
    assert!(
        stdout.contains(&format!("(train {train}, val {val})")),
        "{stdout}"
    );
    let warning = format!("case {}", f.missing);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&warning) && l.contains(&f.missing_path.display().to_string())),
        "a warning names case {} and {}:\n{stderr}",
        f.missing,
        f.missing_path.display()
    );

    // A second export into the same folder is refused, unless forced; the split is the same.
    let first_split = split_of(f.submitted);
    let again = export(&db, &data, &out, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = export(
        &db,
        &data,
        &out,
        &["--force", "--classes", "street_vending,sidewalk_occupation"],
    );
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let (names, relabelled) = load_yolo(&out);
    assert_eq!(names, ["street_vending", "sidewalk_occupation"]);
    assert_eq!(relabelled[&f.static_object.to_string()][0].class, 1);
    assert_eq!(relabelled[&f.submitted.to_string()][0].class, 0);
    assert!(
        !relabelled.contains_key(&f.reclassified.to_string()),
        "illegal_signage is not listed now"
    );
    assert!(
        !relabelled.contains_key(&f.rejected.to_string()),
        "nor sidewalk_stacking"
    );
    assert_eq!(split_of(f.submitted), first_split);
}
