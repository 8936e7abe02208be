//! gridsight: city camera feeds in, geo-tagged candidate cases out.
//!
//! Stages (see README): `ingest` (GStreamer) → `inference` (ONNX Runtime) → analysis → cases.
//! Stages never import each other; `runtime` wires them. `domain` holds the plain data they share.

pub mod analysis;
pub mod annotate;
pub mod api;
pub mod bench;
pub mod cases;
pub mod config;
pub mod dataset;
pub mod domain;
pub mod eval;
pub mod fonts;
pub mod geo;
pub mod inference;
pub mod ingest;
pub mod loadtest;
pub mod runtime;
pub mod scenes;
pub mod synth;
pub mod ui;
