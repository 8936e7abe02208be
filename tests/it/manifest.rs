//! A model whose manifest disagrees with its ONNX file is refused, naming the tensor or file.

use std::sync::Arc;

use gridsight::inference::{Device, InferenceError, Manifest, Model};

use crate::common::{onnxruntime, repo, write_manifest};

const GOOD: &str = "kind = \"objects\"\nclasses = [\"a\", \"b\", \"c\"]\n\n[input]\nname = \"images\"\nshape = [1, 3, 64, 64]\nwidth = 64\nheight = 64\ncolor = \"rgb\"\nscale = 1.0\nresize = \"letterbox\"\n\n[output]\nname = \"output\"\nshape = [1, 3, 8]\nformat = \"yolov5\"\n";

fn open(name: &str, sha: Option<&str>, body: &str) -> Result<Model, InferenceError> {
    onnxruntime();
    let onnx = repo().join("models/fixtures/yolov5.onnx");
    let path = write_manifest(name, &onnx, sha, body);
    let manifest = Manifest::load(&path)?;
    Model::open(Arc::new(manifest), Device::Cpu, 1)
}

fn refused(name: &str, sha: Option<&str>, body: &str) -> String {
    match open(name, sha, body) {
        Ok(_) => panic!("{name}: the model was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_matching_manifest_is_accepted() {
    open("good", None, GOOD).expect("matching manifest");
}

#[test]
fn a_wrong_hash_names_the_file_and_both_hashes() {
    let wrong = "0".repeat(64);
    let msg = refused("bad-hash", Some(&wrong), GOOD);
    assert!(msg.contains("yolov5.onnx") && msg.contains(&wrong), "{msg}");
}

#[test]
fn a_wrong_input_shape_names_the_tensor() {
    let body = GOOD
        .replace("shape = [1, 3, 64, 64]", "shape = [1, 3, 640, 640]")
        .replace("width = 64\nheight = 64", "width = 640\nheight = 640");
    let msg = refused("bad-input", None, &body);
    assert!(
        msg.contains("input \"images\"") && msg.contains("[1, 3, 64, 64]"),
        "{msg}"
    );
}

#[test]
fn a_wrong_output_name_lists_the_real_outputs() {
    let body = GOOD.replace("name = \"output\"", "name = \"output0\"");
    let msg = refused("bad-output-name", None, &body);
    assert!(
        msg.contains("\"output0\"") && msg.contains("\"output\""),
        "{msg}"
    );
}

#[test]
fn a_class_count_that_does_not_fit_the_output_is_refused() {
    let body = GOOD.replace(
        "classes = [\"a\", \"b\", \"c\"]",
        "classes = [\"a\", \"b\"]",
    );
    let msg = refused("bad-classes", None, &body);
    assert!(
        msg.contains("output \"output\"") && msg.contains("2 classes"),
        "{msg}"
    );
}

#[test]
fn a_missing_model_file_says_how_to_get_it() {
    onnxruntime();
    let path = write_manifest(
        "missing",
        &repo().join("models/fixtures/nope.onnx"),
        Some(&"1".repeat(64)),
        GOOD,
    );
    let manifest = Manifest::load(&path).expect("manifest");
    let msg = Model::open(Arc::new(manifest), Device::Cpu, 1)
        .expect_err("missing file")
        .to_string();
    assert!(msg.contains("nope.onnx") && msg.contains("setup"), "{msg}");
}
