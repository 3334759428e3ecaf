"""Entry point of the ``registry`` command: one typer app, commands registered per area.

Each area lives in its own module with a ``register(app)`` function, so the areas stay small and
independent. Errors from the registry print one line on stderr and exit with the code the
catalogue gives their error code (``registry.errors.ErrorCode``: 3 chain unavailable, 2 input, 1
otherwise); an unexpected exception exits 70; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from registry.cli import (
    admin,
    auditing,
    delivering,
    dev,
    indexing,
    issuing,
    keepsakes,
    rosters,
    verifying,
)
from registry.cli.common import state
from registry.errors import ExitCode, RegistryError

app = typer.Typer(
    name="registry",
    help="Blockchain-anchored credential registry: issue, anchor, verify, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks on errors"),
    config: str | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Global options."""
    state.debug = debug
    if config:
        import os

        os.environ["REGISTRY_CONFIG"] = config


for _area in (admin, issuing, verifying, auditing, dev, delivering, keepsakes, indexing):
    _area.register(app)
issuing.register_status_lists(app)  # issue 13: replaces revoke/suspend/reinstate (with --file)
rosters.register(app)  # issue 15: template new, preview, discard, reissue
issuing.register_proofs(app)  # issue 16: registry proofs export


def run() -> None:
    """Console-script entry: run the app, turning registry errors into one line and exit code."""
    try:
        # With standalone_mode=False click returns the code of a ``typer.Exit`` instead of exiting.
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc != 0:
            sys.exit(rc)
    except RegistryError as exc:
        if state.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except typer.TyperException as exc:  # usage errors: typer vendors click's exception classes
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {exc}", file=sys.stderr)
        sys.exit(int(getattr(exc, "exit_code", ExitCode.INPUT)))
    except Exception as exc:  # the unexpected
        if state.debug:
            raise
        print(f"error: internal: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(ExitCode.INTERNAL)

