//! Pure decoders that turn raw detector output tensors into boxes, plus the geometry they share.
//!
//! Everything here works on plain `&[f32]` slices and shapes as ONNX Runtime hands them out; no
//! module in this tree calls the runtime. [`yolo`] decodes YOLO-family heads, [`db`] decodes a
//! PP-OCR text detector's probability map, [`nms()`] suppresses overlapping boxes and [`letterbox`]
//! maps boxes between source-image pixels and model-input pixels.

pub mod db;
pub mod letterbox;
pub mod nms;
pub mod yolo;

pub use db::{db_boxes, db_map_size, DbParams, MapSize, TextBox};
pub use letterbox::Letterbox;
pub use nms::nms;
pub use yolo::{end_to_end, parse_ultralytics_names, yolov5, yolov8, yolox_decoded, yolox_raw};

/// Why an output tensor could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The tensor's shape is not the layout the decoder reads.
    #[error("output has shape {got:?}; {decoder} expects {expected}")]
    Shape {
        /// The decoder that refused it, e.g. `yolov8`.
        decoder: &'static str,
        /// The layout it reads, e.g. `[batch, 4 + classes, boxes] with classes = 3`.
        expected: String,
        /// The shape it was given.
        got: Vec<usize>,
    },
    /// The shape and the data disagree on how many values there are.
    #[error("output has shape {shape:?} ({expected} values) but holds {got} values")]
    Length {
        shape: Vec<usize>,
        /// Product of the shape (`None` when it overflows `usize`).
        expected: String,
        got: usize,
    },
    /// A decoder parameter cannot describe any model, e.g. a zero stride.
    #[error("invalid decoder parameter: {0}")]
    Parameter(String),
}

/// Checks that `shape` describes exactly `data.len()` values.
pub(crate) fn check_len(data: &[f32], shape: &[usize]) -> Result<(), DecodeError> {
    let product = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if product == Some(data.len()) {
        Ok(())
    } else {
        Err(DecodeError::Length {
            shape: shape.to_vec(),
            expected: product.map_or_else(|| "overflowing".to_owned(), |p| p.to_string()),
            got: data.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_error_names_expected_and_got() {
        let err = DecodeError::Shape {
            decoder: "yolov8",
            expected: "[batch, 4 + classes, boxes] with classes = 3".to_owned(),
            got: vec![1, 7, 100],
        };
        assert_eq!(
            err.to_string(),
            "output has shape [1, 7, 100]; yolov8 expects [batch, 4 + classes, boxes] with classes = 3"
        );
    }

    #[test]
    fn check_len_accepts_matching_and_rejects_others() {
        assert!(check_len(&[0.0; 6], &[1, 2, 3]).is_ok());
        let err = check_len(&[0.0; 5], &[1, 2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "output has shape [1, 2, 3] (6 values) but holds 5 values"
        );
        assert!(check_len(&[], &[usize::MAX, 2]).is_err());
    }
}
