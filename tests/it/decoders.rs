//! Each output decoder, run on a real ONNX Runtime session of a fixture graph (made by
//! models/fixtures/make_fixtures.py), matches the hand-computed boxes in expected.json.

use std::sync::Arc;

use gridsight::inference::model::ImageRef;
use gridsight::inference::{Device, Manifest, Model};
use serde_json::Value;

use crate::common::{onnxruntime, repo, write_manifest};

fn fixtures() -> Vec<Value> {
    let text = std::fs::read_to_string(repo().join("models/fixtures/expected.json"))
        .expect("expected.json");
    let json: Value = serde_json::from_str(&text).expect("valid json");
    json["fixtures"].as_array().expect("fixtures array").clone()
}

fn manifest_for(f: &Value) -> std::path::PathBuf {
    let name = f["name"].as_str().expect("name");
    let decoder = f["decoder"].as_str().expect("decoder");
    let shape = |key: &str| {
        f[key]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_i64().expect("dim").to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let onnx = repo()
        .join("models/fixtures")
        .join(f["file"].as_str().expect("file"));
    let kind = if decoder == "db" { "text" } else { "objects" };
    let classes = match decoder {
        "db" => "classes = [\"text\"]\n".to_string(),
        // The yolov8 fixture carries its class names in the ONNX metadata.
        "yolov8" => String::new(),
        _ => "classes = [\"a\", \"b\", \"c\"]\n".to_string(),
    };
    let strides = if decoder == "yolox_raw" {
        "strides = [8, 16, 32]\n"
    } else {
        ""
    };
    let db = match f.get("params") {
        Some(p) => format!(
            "binarize = {}\nunclip_ratio = {}\nmin_size = {}\n",
            p["threshold"], p["unclip_ratio"], p["min_size"]
        ),
        None => String::new(),
    };
    let body = format!(
        "kind = \"{kind}\"\n{classes}\n[input]\nname = {:?}\nshape = [{}]\nwidth = 64\nheight = 64\ncolor = \"rgb\"\nscale = 0.00392156862745098\nresize = \"stretch\"\n\n[output]\nname = {:?}\nshape = [{}]\nformat = \"{decoder}\"\n{strides}\n[thresholds]\nscore = {}\niou = 0.45\n{db}",
        f["input"].as_str().expect("input"),
        shape("input_shape"),
        f["output"].as_str().expect("output"),
        shape("output_shape"),
        f["score_threshold"],
    );
    write_manifest(&format!("fixture-{name}"), &onnx, None, &body)
}

#[test]
fn every_decoder_matches_hand_computed_boxes_through_onnx_runtime() {
    onnxruntime();
    let image = vec![128u8; 64 * 64 * 3];
    for f in fixtures() {
        let name = f["name"].as_str().expect("name").to_string();
        let manifest = Arc::new(Manifest::load(&manifest_for(&f)).expect("manifest"));
        let mut model =
            Model::open(manifest, Device::Cpu, 1).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (outputs, _) = model
            .run(&[ImageRef {
                rgb: &image,
                width: 64,
                height: 64,
            }])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut got: Vec<[f32; 6]> = outputs[0]
            .detections
            .iter()
            .map(|d| {
                [
                    d.bbox.x1,
                    d.bbox.y1,
                    d.bbox.x2,
                    d.bbox.y2,
                    d.score,
                    d.class_id as f32,
                ]
            })
            .collect();
        let mut want: Vec<[f32; 6]> = f["boxes"]
            .as_array()
            .expect("boxes")
            .iter()
            .map(|b| {
                let v: Vec<f32> = b
                    .as_array()
                    .expect("box")
                    .iter()
                    .map(|x| x.as_f64().expect("number") as f32)
                    .collect();
                [v[0], v[1], v[2], v[3], v[4], v[5]]
            })
            .collect();
        let key = |b: &[f32; 6]| (b[0] * 1000.0) as i64;
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got.len(), want.len(), "{name}: got {got:?}, want {want:?}");
        for (g, w) in got.iter().zip(&want) {
            for i in 0..6 {
                assert!((g[i] - w[i]).abs() < 1e-3, "{name}: got {g:?}, want {w:?}");
            }
        }
        if name == "yolov8" {
            assert_eq!(
                model.classes(),
                ["street_vending", "sidewalk_stacking", "illegal_signage"],
                "class names read from the ONNX metadata"
            );
        }
    }
}

#[test]
fn a_per_class_threshold_drops_weak_boxes_of_that_class_only() {
    onnxruntime();
    let f = fixtures()
        .into_iter()
        .find(|f| f["name"] == "yolov8")
        .expect("yolov8 fixture");
    let path = manifest_for(&f);
    let text = std::fs::read_to_string(&path).expect("manifest");
    // The fixture's names come from the ONNX metadata; per_class needs them in the manifest.
    let text = text.replace(
        "kind = \"objects\"\n",
        "kind = \"objects\"\nclasses = [\"street_vending\", \"sidewalk_stacking\", \"illegal_signage\"]\n",
    ) + "\n[thresholds.per_class]\nillegal_signage = 0.8\n";
    let strict = path.with_file_name("strict.toml");
    std::fs::write(&strict, text).expect("write");
    let manifest = Arc::new(Manifest::load(&strict).expect("manifest"));
    let mut model = Model::open(manifest, Device::Cpu, 1).expect("model");
    let image = vec![128u8; 64 * 64 * 3];
    let (outputs, _) = model
        .run(&[ImageRef {
            rgb: &image,
            width: 64,
            height: 64,
        }])
        .expect("run");
    let classes: Vec<usize> = outputs[0].detections.iter().map(|d| d.class_id).collect();
    // The fixture holds a 0.90 street_vending box and a 0.75 illegal_signage box.
    assert_eq!(classes, vec![0], "{:?}", outputs[0].detections);
}
