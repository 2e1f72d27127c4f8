"""Build switches shared by every model builder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildOptions:
    """``fp16``: also write fp16 variants. ``fuse``: apply ORT's offline transformer fusion."""

    fp16: bool = True
    fuse: bool = True
