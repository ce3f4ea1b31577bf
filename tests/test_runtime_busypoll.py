"""BusyPoll keeps the loop turning for one window after a kick, then lets it sleep again."""

import asyncio

from modelport.runtime.busypoll import BusyPoll
from modelport.runtime.environment import RuntimeEnvironment


def _run(window: float, kicks: int) -> BusyPoll:
    async def scenario() -> BusyPoll:
        poll = BusyPoll(asyncio.get_running_loop(), window)
        for _ in range(kicks):
            poll.kick()
        await asyncio.sleep(window + 0.05)
        return poll

    return asyncio.run(scenario())


def test_a_kick_spins_the_loop_for_the_window_then_stops():
    poll = _run(0.01, kicks=3)
    assert poll.spins > 0  # the loop took extra turns instead of sleeping
    assert poll.spinning is False  # and stopped once the window was over


def test_window_zero_never_spins():
    poll = _run(0.0, kicks=5)
    assert poll.spins == 0 and poll.spinning is False


def test_window_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELPORT_BUSY_POLL_MS", "0")
    assert RuntimeEnvironment().busy_poll_ms == 0
    monkeypatch.delenv("MODELPORT_BUSY_POLL_MS")
    assert RuntimeEnvironment().busy_poll_ms == 2.0
