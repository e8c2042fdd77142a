from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.rules.cards import Colour, Deadline
from models.rules.reminding import (
    Batch,
    Notice,
    QuietHours,
    ReminderKind,
    batch,
    deliver_at,
    next_reminder,
    reminder_kind,
    reminder_times,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
NIGHT = QuietHours()


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


DUE = sh(2026, 3, 9, 17, 30)


# --- reminders before a deadline -----------------------------------------------------------


def test_reminders_go_out_a_day_and_two_hours_before_the_deadline() -> None:
    times = reminder_times(DUE, created=sh(2026, 3, 2, 9))
    assert times == [DUE - 24 * HOUR, DUE - 2 * HOUR]
    assert all(t.tzinfo is UTC for t in times)


def test_a_deadline_set_an_hour_ahead_gets_no_earlier_reminders() -> None:
    assert reminder_times(DUE, created=DUE - HOUR) == []
    assert reminder_times(DUE, created=DUE - 3 * HOUR) == [DUE - 2 * HOUR]


def test_a_reminder_due_exactly_when_the_deadline_is_set_is_kept() -> None:
    assert reminder_times(DUE, created=DUE - 2 * HOUR) == [DUE - 2 * HOUR]


def test_offsets_are_sorted_and_each_time_listed_once() -> None:
    offsets = [HOUR, 48 * HOUR, timedelta(minutes=60), 2 * HOUR]
    assert reminder_times(DUE, offsets, created=DUE - 72 * HOUR) == [
        DUE - 48 * HOUR,
        DUE - 2 * HOUR,
        DUE - HOUR,
    ]


@pytest.mark.parametrize("offset", [timedelta(), -HOUR])
def test_a_reminder_cannot_come_at_or_after_the_deadline(offset: timedelta) -> None:
    with pytest.raises(ValueError, match="positive"):
        reminder_times(DUE, [offset], created=DUE - 72 * HOUR)


# --- quiet hours ---------------------------------------------------------------------------


def test_urgent_notices_go_out_at_once_even_at_night() -> None:
    moment = sh(2026, 3, 9, 23, 15)
    assert deliver_at(moment, urgent=True, quiet=NIGHT) == moment


def test_a_notice_in_the_daytime_goes_out_at_once_in_utc() -> None:
    sent = deliver_at(sh(2026, 3, 9, 15, 0), urgent=False, quiet=NIGHT)
    assert sent == sh(2026, 3, 9, 15, 0)
    assert sent.tzinfo is UTC


def test_a_notice_late_in_the_evening_waits_for_the_next_morning() -> None:
    assert deliver_at(sh(2026, 3, 9, 23, 15), False, NIGHT) == sh(2026, 3, 10, 7, 30)


def test_a_notice_after_midnight_waits_for_the_same_morning() -> None:
    assert deliver_at(sh(2026, 3, 10, 2, 0), False, NIGHT) == sh(2026, 3, 10, 7, 30)


def test_quiet_hours_begin_at_their_start_and_are_over_at_their_end() -> None:
    assert deliver_at(sh(2026, 3, 9, 22, 0), False, NIGHT) == sh(2026, 3, 10, 7, 30)
    assert deliver_at(sh(2026, 3, 9, 21, 59), False, NIGHT) == sh(2026, 3, 9, 21, 59)
    assert deliver_at(sh(2026, 3, 10, 7, 30), False, NIGHT) == sh(2026, 3, 10, 7, 30)


def test_quiet_hours_are_judged_by_the_countys_clock() -> None:
    # 15:00 UTC is 23:00 in the county.
    assert deliver_at(datetime(2026, 3, 9, 15, 0, tzinfo=UTC), False, NIGHT) == sh(
        2026, 3, 10, 7, 30
    )


def test_quiet_hours_within_one_day_hold_until_their_end() -> None:
    lunch = QuietHours(time(12, 0), time(14, 30))
    assert deliver_at(sh(2026, 3, 9, 13, 0), False, lunch) == sh(2026, 3, 9, 14, 30)
    assert deliver_at(sh(2026, 3, 9, 23, 0), False, lunch) == sh(2026, 3, 9, 23, 0)


def test_quiet_hours_must_not_start_when_they_end() -> None:
    with pytest.raises(ValueError, match="different"):
        QuietHours(time(22, 0), time(22, 0))


# --- one message per official --------------------------------------------------------------


def test_an_official_with_many_items_due_gets_one_batch_listing_them_soonest_first() -> None:
    first = Notice(7, "Q-2026-0002", "close", DUE)
    second = Notice(7, "N-12", "node", DUE + HOUR)
    other = Notice(3, "Q-2026-0001", "claim", DUE + 2 * HOUR)
    assert batch([second, other, first]) == [Batch(3, (other,)), Batch(7, (first, second))]


def test_the_same_notice_twice_is_listed_once() -> None:
    notice = Notice(7, "Q-2026-0002", "close", DUE)
    again = Notice(7, "Q-2026-0002", "close", DUE.astimezone(UTC))
    assert batch([notice, again]) == [Batch(7, (notice,))]


def test_notices_due_together_are_listed_by_item() -> None:
    b = Notice(7, "Q-2026-0002", "close", DUE)
    a = Notice(7, "Q-2026-0001", "close", DUE)
    assert batch([b, a]) == [Batch(7, (a, b))]


def test_nothing_to_send_makes_no_batches() -> None:
    assert batch([]) == []


# --- the next reminder, by what the deadline waits on ---------------------------------------


def _deadline(**kw: object) -> Deadline:
    values: dict[str, object] = {"kind": "node", "due": DUE}
    values.update(kw)
    return Deadline(**values)  # type: ignore[arg-type]


def test_an_open_deadline_is_reminded_a_day_then_two_hours_before() -> None:
    open_ = _deadline()
    assert reminder_kind(open_) is ReminderKind.BEFORE_DUE
    first = next_reminder(open_, sh(2026, 3, 2, 9))
    assert first == DUE - 24 * HOUR
    assert next_reminder(open_, first) == DUE - 2 * HOUR
    assert next_reminder(open_, DUE - 2 * HOUR) is None


def test_offsets_come_from_the_policy() -> None:
    assert next_reminder(_deadline(), sh(2026, 3, 2, 9), [4 * HOUR]) == DUE - 4 * HOUR


def test_a_yellow_without_a_reason_nudges_the_owner_daily() -> None:
    yellow = _deadline(cards=(Colour.YELLOW,))
    assert reminder_kind(yellow) is ReminderKind.RECOMMIT_NEEDED
    assert next_reminder(yellow, DUE + HOUR) == DUE + 25 * HOUR


def test_a_pending_recommitment_nudges_the_leader_daily() -> None:
    pending = _deadline(cards=(Colour.YELLOW,), recommitted_due=DUE + 72 * HOUR)
    assert reminder_kind(pending) is ReminderKind.APPROVAL_NEEDED
    assert next_reminder(pending, DUE + HOUR) == DUE + 25 * HOUR


def test_an_approved_date_is_reminded_like_the_first() -> None:
    new_due = DUE + 72 * HOUR
    approved = _deadline(cards=(Colour.YELLOW,), recommitted_due=new_due, recommit_approved=True)
    assert reminder_kind(approved) is ReminderKind.BEFORE_DUE
    assert next_reminder(approved, DUE + HOUR) == new_due - 24 * HOUR


@pytest.mark.parametrize(
    "finished",
    [
        {"done_at": DUE - HOUR},
        {"cards": (Colour.GREEN,), "done_at": DUE - HOUR},
        {
            "cards": (Colour.YELLOW, Colour.RED),
            "recommitted_due": DUE + HOUR,
            "recommit_approved": True,
        },
    ],
)
def test_done_or_red_items_get_no_more_reminders(finished: dict[str, object]) -> None:
    deadline = _deadline(**finished)
    assert reminder_kind(deadline) is None
    assert next_reminder(deadline, DUE - 48 * HOUR) is None
