"""bench/broadcast.py still runs and still finds every chat served once (40 chats, no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]


# One database per run, for CI's time, as the crash suite: PostgreSQL when given, else SQLite.
@pytest.mark.parametrize("database_url", ["postgresql" if PG_URL else "sqlite"], indirect=True)
@pytest.mark.timeout(300)
def test_the_broadcast_benchmark_reaches_every_chat_once_without_a_429(database_url: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NODEDESK_")}
    done = subprocess.run(
        [sys.executable, "bench/broadcast.py", "--chats", "40", "--database-url", database_url],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line["bench"]: line for line in map(json.loads, done.stdout.splitlines())}
    assert set(lines) == {"broadcast_throughput", "broadcast_kill", "broadcast_term"}
    for line in lines.values():
        assert (line["chats"], line["chats_0"], line["too_many_requests"]) == (40, 0, 0), line
        assert line["not_marked_sent"] == 0, line
    assert lines["broadcast_throughput"]["chats_1"] == 40
    # SIGTERM lets the bot stop its outbox and exit cleanly; SIGKILL does not.
    stopped_by = {name: lines[name]["exit_status"] for name in ("broadcast_term", "broadcast_kill")}
    assert stopped_by == {"broadcast_term": 0, "broadcast_kill": -9}
    # A stop may duplicate a message Telegram accepted just before it, and only such a one.
    for stopped in ("broadcast_kill", "broadcast_term"):
        line = lines[stopped]
        assert line["duplicates_were_in_flight"], line
        assert line["chats_2_or_more"] <= line["in_flight_at_stop"], line
