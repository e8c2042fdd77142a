from pytest import approx

from models.rules.pacing import Pacer, SendLimits

LIMITS = SendLimits(margin=0.0, answered_margin=0.0)


def test_a_private_chat_gets_one_message_a_second() -> None:
    pacer = Pacer(LIMITS)
    assert pacer.wait(1, False, now=10.0) == 0
    pacer.sent(1, False, now=10.0)
    assert pacer.wait(1, False, now=10.4) == approx(0.6)
    assert pacer.wait(2, False, now=10.4) == 0
    assert pacer.wait(1, False, now=11.0) == 0


def test_a_group_gets_twenty_messages_a_minute() -> None:
    pacer = Pacer(LIMITS)
    for i in range(20):
        assert pacer.wait(-5, True, now=float(i)) == 0
        pacer.sent(-5, True, now=float(i))
    assert pacer.wait(-5, True, now=20.0) == 40.0
    assert pacer.wait(-5, True, now=60.0) == 0


def test_thirty_messages_a_second_overall() -> None:
    pacer = Pacer(LIMITS)
    for chat in range(30):
        pacer.sent(chat, False, now=100.0 + chat / 100)
    assert pacer.wait(999, False, now=100.5) == approx(0.5)
    assert pacer.wait(999, False, now=101.0) == 0


def test_retry_after_pauses_only_that_chat() -> None:
    pacer = Pacer(LIMITS)
    pacer.pause(7, 5, now=0.0)
    assert pacer.wait(7, False, now=1.0) == 4.0
    assert pacer.wait(8, False, now=1.0) == 0


def test_the_margin_keeps_us_a_little_under_the_limit() -> None:
    pacer = Pacer(SendLimits(margin=0.05))
    pacer.sent(1, False, now=0.0)
    assert pacer.wait(1, False, now=1.0) > 0


def test_messages_overall_leave_evenly_spaced_not_in_bursts() -> None:
    pacer = Pacer(SendLimits(margin=0.0, answered_margin=0.0, early_slots=0))
    pacer.sent(1, False, now=0.0)
    assert pacer.wait(2, False, now=0.0) == approx(1 / 30)
    assert pacer.wait(2, False, now=1 / 30) == 0


def test_a_message_may_leave_a_few_slots_early_so_late_wakers_keep_the_pace() -> None:
    pacer = Pacer(SendLimits(margin=0.0, answered_margin=0.0, early_slots=2))
    for chat in range(3):
        assert pacer.wait(chat, False, now=0.0) == 0
        pacer.sent(chat, False, now=0.0)
    assert pacer.wait(3, False, now=0.0) == approx(1 / 30)


def test_a_message_counts_from_telegrams_answer_once_it_comes() -> None:
    pacer = Pacer(LIMITS)
    # Thirty messages, each answered 0.2 s after it left: Telegram may have counted them as late.
    for chat in range(30):
        pacer.answered(pacer.sent(chat, False, now=chat / 30), now=chat / 30 + 0.2)
    assert pacer.wait(999, False, now=1.0) == approx(0.2)
    assert pacer.wait(999, False, now=1.2) == 0


def test_a_private_chat_waits_a_second_from_the_answer() -> None:
    pacer = Pacer(LIMITS)
    pacer.answered(pacer.sent(1, False, now=10.0), now=10.3)
    assert pacer.wait(1, False, now=11.0) == approx(0.3)


def test_counted_from_the_answer_a_message_needs_only_a_sliver_of_margin() -> None:
    pacer = Pacer(SendLimits(margin=0.05, answered_margin=0.001))
    pacer.sent(1, False, now=0.0)
    pacer.answered(pacer.sent(2, False, now=0.0), now=0.01)
    assert pacer.wait(1, False, now=1.0) == approx(0.05)
    assert pacer.wait(2, False, now=1.0) == approx(0.011)
