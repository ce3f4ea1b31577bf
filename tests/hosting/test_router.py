"""The router on its own: exact weight shares, TargetVariant, least outstanding, shares during a shift."""

from __future__ import annotations

from collections import Counter

import pytest

from modelport.hosting.router import NoTarget, Router, Share
from modelport.hosting.traffic import shift_steps, termination_wait


class Inst:
    def __init__(self, ready: bool = True, outstanding: int = 0) -> None:
        self.ready = ready
        self.outstanding = outstanding


class Var:
    def __init__(self, name: str, weight: float, instances: list[Inst]) -> None:
        self.name = name
        self.weight = weight
        self.instances = instances


def test_weights_are_followed_exactly_and_interleaved():
    router = Router([Var("A", 1, [Inst()]), Var("B", 3, [Inst()])])
    picks = [router.pick()[0].name for _ in range(2000)]
    assert Counter(picks) == {"A": 500, "B": 1500}
    assert "AA" not in "".join(picks[:8])  # smooth: A never twice in a row at 1:3


def test_variants_without_ready_instances_or_weight_get_nothing():
    down = Var("down", 5, [Inst(ready=False)])
    zero = Var("zero", 0, [Inst()])
    router = Router([down, zero, Var("up", 1, [Inst()])])
    assert {router.pick()[0].name for _ in range(20)} == {"up"}
    assert router.pick("zero")[0] is zero  # weight 0 still answers TargetVariant
    with pytest.raises(NoTarget) as excinfo:
        router.pick("down")
    assert excinfo.value.reason == "not-ready"
    with pytest.raises(NoTarget) as excinfo:
        router.pick("nope")
    assert excinfo.value.reason == "unknown-variant"
    with pytest.raises(NoTarget) as excinfo:
        Router([zero]).pick()
    assert excinfo.value.reason == "no-weight"


def test_least_outstanding_and_exclusion():
    busy, idle = Inst(outstanding=3), Inst(outstanding=0)
    router = Router([Var("A", 1, [busy, idle])])
    assert all(router.pick()[1] is idle for _ in range(10))
    assert router.pick(exclude=[idle])[1] is busy
    with pytest.raises(NoTarget):
        router.pick(exclude=[idle, busy])


def test_ties_alternate_between_instances():
    a, b = Inst(), Inst()
    router = Router([Var("A", 1, [a, b])])
    assert {id(router.pick()[1]) for _ in range(4)} == {id(a), id(b)}


def test_shares_split_one_variant_between_old_and_new_fleets():
    old, new = Var("AllTraffic", 1, [Inst()]), Var("AllTraffic", 1, [Inst()])
    router = Router([Share(old, 0.75), Share(new, 0.25)])
    picks = [router.pick()[0].fleet for _ in range(400)]
    assert picks.count(new) == 100 and picks.count(old) == 300
    assert router.pick("AllTraffic")[0].name == "AllTraffic"


def test_shift_steps_for_each_routing_type():
    assert shift_steps(None, 2) == [(1.0, 0.0)]
    canary = {"TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 5,
                                              "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}}
    assert shift_steps(canary, 4) == [(0.1, 5.0), (1.0, 0.0)]
    linear = {"TrafficRoutingConfiguration": {"Type": "LINEAR", "WaitIntervalInSeconds": 2,
                                              "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1}}}
    assert shift_steps(linear, 4) == [(0.25, 2.0), (0.5, 2.0), (0.75, 2.0), (1.0, 0.0)]
    assert termination_wait({"TerminationWaitInSeconds": 3}) == 3.0
