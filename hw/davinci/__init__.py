"""hw.davinci: the DaVinci AI Core model: its config record, chip presets and config loading."""

from hw.davinci.config import DaVinciConfig
from hw.davinci.config_fields import VectorCost
from hw.davinci.loader import load_config
from hw.davinci.presets import PRESETS, get_preset

__all__ = ["PRESETS", "DaVinciConfig", "VectorCost", "get_preset", "load_config"]
