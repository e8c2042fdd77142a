"""`nodedesk demo --script` walks the sample county's direct line and says whether it worked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import free_port


def test_the_scripted_demo_gets_every_expected_answer(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODEDESK_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--script", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "31/31 expected answers arrived." in result.stdout
    for card in ("green cards", "a yellow card", "a red card", "done, green"):
        assert card in result.stdout
    assert "=== Transcript ===" in result.stdout
    assert "✗" not in result.stdout
    # A fresh SQLite file in a temporary folder: the working directory stays clean.
    assert list(tmp_path.iterdir()) == []
