"""Steward's inference container: ONNX Runtime behind the Open Inference Protocol v2 and SageMaker."""

__version__ = "0.1.0"
