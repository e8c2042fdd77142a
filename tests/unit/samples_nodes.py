"""Template parameters for the nodes templates (merged into `samples.SAMPLE`)."""

from __future__ import annotations

from typing import Any

SAMPLE: dict[str, Any] = {}
