"""Errors raised for bad user input to the framework (malformed graphs, unsupported ONNX)."""


class FrameworkError(ValueError):
    """A graph, model file or argument the framework cannot accept; the message says what
    and where."""
