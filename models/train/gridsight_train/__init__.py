"""gridsight's own training recipe for the `street-v1` object detector (JAX on CPU, ONNX export)."""

CLASSES = ("street_vending", "sidewalk_stacking", "illegal_signage")
__version__ = "1.0.0"
