"""archsim: the user-facing layer (the `archsim` CLI, simulate() and design-space sweeps).

``archsim.simulate(model, hw="ascend910", batch=1, mode="timing", inputs=None)`` compiles a zoo
model, an ``.onnx`` file or a framework Graph for a chip and returns its `RunResult`.
"""

from archsim.simulate import simulate

__version__ = "0.1.0"

__all__ = ["__version__", "simulate"]
