"""net.deadlines: one periodic sweep cancels the calls that outlive their limit, and only those."""

from __future__ import annotations

import asyncio

import pytest

from modelport.net.deadlines import Deadlines


class Late(Exception):
    pass


async def call(deadlines: Deadlines, seconds: float, takes: float) -> str:
    with deadlines.limit(seconds, Late):
        await asyncio.sleep(takes)
        return "answered"


def test_only_the_late_calls_are_cut_and_within_the_resolution():
    async def main():
        loop = asyncio.get_running_loop()
        deadlines = Deadlines(loop, resolution=0.02)
        started = loop.time()
        outcomes = await asyncio.gather(call(deadlines, 0.1, 0.02), call(deadlines, 0.1, 5), call(deadlines, 0.3, 0.15),
                                        return_exceptions=True)
        elapsed = loop.time() - started
        await asyncio.sleep(0.05)  # the sweep's next tick finds nothing in flight and stops
        return outcomes, elapsed, deadlines

    outcomes, elapsed, deadlines = asyncio.run(main())
    assert outcomes[0] == "answered" and isinstance(outcomes[1], Late) and outcomes[2] == "answered"
    assert 0.1 <= elapsed < 0.3  # the late call was cut at its limit (plus at most a sweep), not after 5 s
    assert not deadlines._due and not deadlines._late and not deadlines._sweeping


def test_a_cancellation_from_outside_stays_a_cancellation():
    async def main():
        deadlines = Deadlines(asyncio.get_running_loop(), resolution=0.02)
        task = asyncio.ensure_future(call(deadlines, 10, 10))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return deadlines

    deadlines = asyncio.run(main())
    assert not deadlines._due


def test_a_task_that_outlives_its_call_is_not_cancelled_later():
    async def main():
        deadlines = Deadlines(asyncio.get_running_loop(), resolution=0.02)
        assert await call(deadlines, 0.05, 0.0) == "answered"
        await asyncio.sleep(0.15)  # well past the deadline the call had: nothing may cancel this task now
        return "still running"

    assert asyncio.run(main()) == "still running"


def test_watch_outside_a_task_is_refused():
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError), Deadlines(loop).limit(1, Late):
            pass
    finally:
        loop.close()
