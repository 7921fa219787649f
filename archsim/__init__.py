"""archsim: the user-facing layer (the `archsim` CLI, simulate() and design-space sweeps)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
