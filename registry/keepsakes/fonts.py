"""The TrueType fonts the documents embed: DejaVu Sans (Debian ``fonts-dejavu-core``, a free
licence), which covers Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and Arabic letters.

``REGISTRY_KEEPSAKE_FONT`` names another regular TTF (its bold face is looked for beside it as
``<name>-Bold.ttf``). Characters the font lacks are drawn as empty boxes; the embedded JSON keeps
them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.errors import ConfigError

DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass(frozen=True)
class FontFiles:
    """A regular and a bold TTF (the same file when no bold face is found)."""

    regular: Path
    bold: Path


def font_files(regular: Path | None = None) -> FontFiles:
    """The fonts to embed; ``ConfigError`` saying what to install when the file is missing."""
    path = regular or DEFAULT_FONT
    if not path.is_file():
        raise ConfigError(
            f"font {path} not found: install Debian's fonts-dejavu-core (scripts/setup.sh --test does) "
            "or set REGISTRY_KEEPSAKE_FONT to a TrueType font file"
        )
    bold = path.with_name(f"{path.stem}-Bold{path.suffix}")
    return FontFiles(path, bold if bold.is_file() else path)
