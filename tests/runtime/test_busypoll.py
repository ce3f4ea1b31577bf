"""BusyPoll keeps the loop turning for one window after a kick, then lets it sleep again."""

import asyncio

from modelport.net.busypoll import BusyPoll
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


def test_spinning_pauses_when_the_process_gets_too_little_cpu(monkeypatch):
    # A frozen CPU clock reads as "descheduled the whole time": other processes needed the cores.
    from modelport.net import busypoll

    monkeypatch.setattr(busypoll.time, "thread_time", lambda: 1.0)
    poll = _run(0.02, kicks=1)
    assert poll.pauses >= 1 and poll.spinning is False
    assert poll.paused_until > 0
    spins = poll.spins
    poll.kick()  # still paused: a kick does not start spinning again
    assert poll.spinning is False and poll.spins == spins


def test_spinning_with_a_core_to_itself_is_not_paused(monkeypatch):
    # CPU clock advancing with the wall clock: the spinner had a core to itself (an idle machine).
    from modelport.net import busypoll

    monkeypatch.setattr(busypoll.time, "thread_time", busypoll.time.monotonic)
    poll = _run(0.02, kicks=1)
    assert poll.spins > busypoll.CHECK_EVERY  # it was checked at least once on the way
    assert poll.pauses == 0 and poll.paused_until == 0.0


def test_spinning_steps_aside_at_idle_priority_and_returns_to_its_own_policy():
    import os

    before = os.sched_getscheduler(0)
    poll = _run(0.01, kicks=1)
    assert poll.spins > 0
    assert poll._own_policy == before  # the SCHED_IDLE step-aside was allowed here and used
    assert os.sched_getscheduler(0) == before  # and every turn came back to the thread's own policy


def test_a_turn_right_after_an_answer_does_not_step_aside(monkeypatch):
    # Under load every loop pass answers something: those turns cost no scheduler system calls; the turns
    # of an idle window still step aside.
    from modelport.net import busypoll

    stepped = []
    monkeypatch.setattr(busypoll.BusyPoll, "_step_aside", lambda self: stepped.append(1))

    async def scenario() -> BusyPoll:
        poll = BusyPoll(asyncio.get_running_loop(), 0.01)
        for _ in range(50):  # an answer before each of 50 loop passes
            poll.kick()
            await asyncio.sleep(0)
        busy_steps = len(stepped)
        await asyncio.sleep(0.05)  # then the window runs out idle
        return poll, busy_steps

    poll, busy_steps = asyncio.run(scenario())
    assert busy_steps <= 1  # at most the turn that started before the first answer landed
    assert poll.steps_aside == len(stepped) > busy_steps  # the idle turns stepped aside
    assert poll.spins > poll.steps_aside  # and the busy turns were still turns of the spin


def test_servers_on_one_loop_share_one_poller_with_the_longest_window():
    from modelport.net.busypoll import busy_poll_of

    async def scenario() -> tuple:
        loop = asyncio.get_running_loop()
        hosting, gateway = busy_poll_of(loop, 0.002), busy_poll_of(loop, 0.005)
        hosting.kick()
        gateway.kick()  # the window goes on; no second chain of spins is started
        await asyncio.sleep(0.02)
        return hosting, gateway

    hosting, gateway = asyncio.run(scenario())
    assert hosting is gateway and hosting.window == 0.005
    assert hosting.spins > 0 and not hosting.spinning

    async def other_loop() -> object:
        return busy_poll_of(asyncio.get_running_loop(), 0.002)

    assert asyncio.run(other_loop()) is not hosting  # each loop its own
