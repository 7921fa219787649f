"""Errors raised by hardware configs and engines; each message names what and where."""


class HwError(ValueError):
    """Base class of every hardware-model error caused by user input."""


class ConfigError(HwError):
    """A hardware config with an unknown key, a bad value or an unknown preset name."""


class SimulationError(HwError):
    """A program that cannot run correctly on the model (deadlock, race, out-of-bounds access)."""


class DeadlockError(SimulationError):
    """A wait that can never be satisfied; the message names the blocked instruction and flag."""


class RaceError(SimulationError):
    """Two pipes touching overlapping bytes with no flag ordering them."""
