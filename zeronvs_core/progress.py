"""Progress reporting of long library jobs: ``progress(description, total)`` returns a bar with
``update(n)`` and ``close()`` (``tqdm`` fits; the ComfyUI nodes pass their own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Progress", "open_bar"]

Progress = Callable[[str, int], Any]
"""``progress(description, total)`` -> a bar with ``update(n)`` and ``close()``."""


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def open_bar(progress: Progress | None, description: str, total: int):
    """``progress(description, total)``, or a bar that shows nothing when ``progress`` is None."""
    return _NoBar() if progress is None else progress(description, total)
