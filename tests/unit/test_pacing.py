from pytest import approx

from models.rules.pacing import Pacer, SendLimits

LIMITS = SendLimits(margin=0.0)


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
