//! The committed object model, `models/street-v1`: its manifest holds against the ONNX file (the
//! same contract every model is held to), and it finds a stall, a stack of boxes and a poster on
//! frames of the generated demo street, where the generator knows the true boxes.

use std::sync::Arc;

use gridsight::inference::model::ImageRef;
use gridsight::inference::{Device, Manifest, Model};
use gridsight::synth::{ObjectClass, Scene, SceneSpec};

use crate::common::{onnxruntime, repo};

fn street_v1() -> Model {
    onnxruntime();
    let manifest = Manifest::load(&repo().join("models/street-v1/model.toml"))
        .expect("models/street-v1/model.toml loads");
    let classes = manifest
        .classes
        .clone()
        .expect("street-v1's manifest lists its classes");
    assert_eq!(
        classes,
        ["street_vending", "sidewalk_stacking", "illegal_signage"]
    );
    // Model::open checks the hash, the input and output tensors and the class count.
    Model::open(Arc::new(manifest), Device::Cpu, 2).expect("street-v1 meets its manifest")
}

#[test]
fn street_v1_meets_its_manifest() {
    let model = street_v1();
    assert_eq!(model.classes().len(), 3);
}

#[test]
fn street_v1_finds_a_stall_a_stack_and_a_poster_on_a_generated_street() {
    let mut model = street_v1();
    // The demo street: a stall from 0:40, boxes from 1:10, a wall poster from 1:30.
    let scene = Scene::new(SceneSpec::demo()).expect("demo scene");
    let (w, h) = (scene.spec().width, scene.spec().height);
    let fps = u64::from(scene.spec().fps);
    let mut rgb = vec![0u8; scene.frame_len()];
    let classes = [
        ObjectClass::StreetVending,
        ObjectClass::SidewalkStacking,
        ObjectClass::IllegalSignage,
    ];
    let mut found = [0usize; 3];
    let mut false_alarms = Vec::new();
    let seconds = [100, 120, 140, 160];
    for s in seconds {
        let index = s * fps;
        scene.render(index, &mut rgb).expect("render");
        let truth = scene.frame_truth(index).expect("truth");
        let image = ImageRef {
            rgb: &rgb,
            width: w,
            height: h,
        };
        let (out, _) = model.run(&[image]).expect("inference");
        let detections = out.into_iter().next().unwrap_or_default().detections;
        for (k, class) in classes.iter().enumerate() {
            let objects: Vec<_> = truth
                .objects
                .iter()
                .filter(|o| o.class == *class && o.visible_fraction >= 0.5)
                .map(|o| o.bbox())
                .collect();
            assert_eq!(objects.len(), 1, "{s} s: one {class:?} in the demo scene");
            let hits = detections
                .iter()
                .filter(|d| d.class_id == k)
                .filter(|d| objects.iter().any(|o| o.iou(&d.bbox) >= 0.5))
                .count();
            found[k] += usize::from(hits > 0);
            false_alarms.extend(
                detections
                    .iter()
                    .filter(|d| d.class_id == k && d.score >= 0.5)
                    .filter(|d| objects.iter().all(|o| o.iou(&d.bbox) < 0.1))
                    .map(|d| format!("{s} s: {class:?} {:.2} at {:?}", d.score, d.bbox)),
            );
        }
    }
    // Each class on most of the frames (a detector, not an oracle), and nothing confident
    // elsewhere. (The parked bicycle at the left edge draws a weak `sidewalk_stacking`, at most
    // 0.24 in this model, 0.09, 0.16 and 0.34 in the three before it: the rules' dwell and zones
    // have to live with detectors like that.)
    for (k, class) in classes.iter().enumerate() {
        assert!(
            found[k] >= 3,
            "{class:?} found on {} of {} frames",
            found[k],
            seconds.len()
        );
    }
    assert!(
        false_alarms.is_empty(),
        "confident detections away from every object: {false_alarms:?}"
    );
}

#[test]
fn eval_breaks_each_class_down_by_kind_and_by_what_false_detections_lie_on() {
    onnxruntime();
    let mut options = gridsight::eval::EvalOptions::new(crate::common::scratch());
    options.objects = Some(repo().join("models/street-v1/model.toml"));
    options.parts = gridsight::eval::Parts::parse("objects").expect("parts");
    options.scenes = 4;
    options.frames_per_scene = 2;
    let report = gridsight::eval::run(&options, &mut |_| {}).expect("eval part 1");
    let gridsight::eval::Part::Done(objects) = &report.objects else {
        panic!("part 1 did not run: {:?}", report.objects);
    };
    let mut kinds = 0;
    for c in &objects.classes {
        // The kinds add up to the class's recall, and what false detections lie on to its
        // false detections, all at the class's threshold.
        let hits: usize = c.recall_by_kind.values().map(|r| r.hits).sum();
        let of: usize = c.recall_by_kind.values().map(|r| r.of).sum();
        assert_eq!((hits, of), (c.recall.hits, c.recall.of), "{}", c.class);
        let false_detections: usize = c.false_detections_on.values().sum();
        assert_eq!(
            false_detections,
            c.precision.of - c.precision.hits,
            "{}: {:?}",
            c.class,
            c.false_detections_on
        );
        kinds += c.recall_by_kind.len();
    }
    assert!(kinds >= 3, "four scenes show several kinds: {objects:?}");
}
