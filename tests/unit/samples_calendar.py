"""Template parameters for the calendar templates (merged into `samples.SAMPLE`)."""

from __future__ import annotations

from typing import Any

SAMPLE: dict[str, Any] = {}
