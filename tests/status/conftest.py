"""Fixtures of the status list tests: the pipeline tests' databases (SQLite and PostgreSQL) and
fresh anvil, reused from tests/pipeline/conftest.py (loaded by path: both files are "conftest")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PIPELINE = Path(__file__).resolve().parent.parent / "pipeline"
sys.path.insert(0, str(_PIPELINE))
_spec = importlib.util.spec_from_file_location("pipeline_conftest", _PIPELINE / "conftest.py")
assert _spec is not None and _spec.loader is not None
_pipeline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pipeline)

chain = _pipeline.chain
db_url = _pipeline.db_url
