"""Shared CLI helpers: global state, JSON output, settings access."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from registry.settings import Settings, load_settings


@dataclass
class _State:
    debug: bool = False


state = _State()


def settings(**overrides: Any) -> Settings:
    """Load the settings, with command-line overrides (None values are ignored)."""
    return load_settings(**overrides)


def print_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()
