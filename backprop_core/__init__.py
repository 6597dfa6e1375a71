"""Backprop Lab's engine: the classroom 2-2-2 network in numpy float64, every gradient by the chain rule."""

from .activations import ACTIVATIONS
from .config import MAX_LR, MAX_STEPS, MAZUR, Config, ConfigError
from .engine import evaluate, row
from .gradcheck import gradient_check
from .network import COLUMNS, GRADIENTS, build_network
from .sweep import CLASSROOM_LRS, DEFAULT_TARGET_ERROR, STATUSES, Sweep, sweep
from .table import run_steps

__all__ = [
    "ACTIVATIONS",
    "CLASSROOM_LRS",
    "COLUMNS",
    "DEFAULT_TARGET_ERROR",
    "GRADIENTS",
    "MAX_LR",
    "MAX_STEPS",
    "MAZUR",
    "STATUSES",
    "Config",
    "ConfigError",
    "Sweep",
    "build_network",
    "evaluate",
    "gradient_check",
    "row",
    "run_steps",
    "sweep",
]
