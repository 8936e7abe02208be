//! Integration tests, one binary. Real GStreamer, real ONNX Runtime, RTSP on 127.0.0.1.

mod cli;
mod common;
mod console;
mod dataset;
mod decoders;
mod ingest;
mod manifest;
mod pipeline;
mod scene;
mod street_model;
mod tiles;
