"""framework: tensors, nn modules, tracing to a static Graph, autodiff, ONNX import and the
NumPy reference interpreter (the golden model for every numeric test)."""
