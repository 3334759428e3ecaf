"""``registry.cli.rosters`` replaces ``issue``, ``anchor`` and ``status`` of ``registry.cli.issuing``
by wrappers: every option of the wrapped command must be an option of its wrapper, or the merged
CLI would refuse it."""

from __future__ import annotations

import inspect

import pytest

from registry.cli import issuing, rosters


def _options(fn: object) -> dict[str, object]:
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()}  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["issue", "anchor", "status"])
def test_wrapper_takes_every_option_of_the_wrapped_command(command: str) -> None:
    wrapped, wrapper = _options(getattr(issuing, command)), _options(getattr(rosters, command))
    missing = sorted(set(wrapped) - set(wrapper))
    assert not missing, f"rosters.{command} lacks {missing}"
    for name in wrapped:
        flags = getattr(wrapped[name], "param_decls", None)
        assert getattr(wrapper[name], "param_decls", None) == flags, (command, name)
