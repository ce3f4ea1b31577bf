"""Pick where a request goes: a variant by weight (or ``TargetVariant``), then the instance with
the fewest requests in flight.

Weights use smooth weighted round-robin (as nginx does): over any run of calls each variant gets
its share ``weight / sum(weights)`` within one call, and picks interleave instead of bunching.
During a canary or linear traffic shift the router sees each variant twice (old and new fleet, as
:class:`Share` objects with scaled weights) under the same name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Target(Protocol):
    """What the router needs from an instance."""

    ready: bool
    outstanding: int


class VariantLike(Protocol):
    """What the router needs from a variant."""

    name: str
    weight: float
    instances: list


class Share:
    """A fleet seen with its weight scaled by ``factor`` (a step of a traffic shift)."""

    __slots__ = ("name", "weight", "instances", "fleet")

    def __init__(self, fleet: VariantLike, factor: float) -> None:
        self.fleet = fleet
        self.name = fleet.name
        self.weight = fleet.weight * factor
        self.instances = fleet.instances


class NoTarget(Exception):
    """No variant or instance can take the request; ``reason`` is one of: unknown-variant,
    no-weight, not-ready."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Router:
    """Routes over a fixed list of variants; replace the router to change the list."""

    def __init__(self, variants: Sequence[VariantLike]) -> None:
        self.variants = list(variants)
        self._by_name: dict[str, list[VariantLike]] = {}
        for v in self.variants:
            self._by_name.setdefault(v.name, []).append(v)
        self._current = [0.0] * len(self.variants)
        self._turn = 0

    def pick(self, target_variant: str | None = None, exclude: Sequence[Target] = ()) -> tuple[VariantLike, Target]:
        """Choose a variant and one of its ready instances (not in ``exclude``, e.g. instances that just
        failed); raise :class:`NoTarget` when none can serve."""
        if target_variant:
            group = self._by_name.get(target_variant)
            if group is None:
                names = ", ".join(self._by_name) or "none"
                raise NoTarget("unknown-variant", f"Variant {target_variant} not found; this endpoint has: {names}.")
            best = None
            for variant in group:
                instance = self._least_outstanding(variant, exclude)
                if instance is not None and (best is None or instance.outstanding < best[1].outstanding):
                    best = (variant, instance)
            if best is None:
                raise NoTarget("not-ready", f"No instance of variant {target_variant} is ready to serve.")
            return best
        variant = self._weighted_choice()
        instance = self._least_outstanding(variant, exclude)
        if instance is None:  # its instances went down between the two checks
            raise NoTarget("not-ready", f"No instance of variant {variant.name} is ready to serve.")
        return variant, instance

    def _weighted_choice(self) -> VariantLike:
        best = -1
        total = 0.0
        current = self._current
        for k, v in enumerate(self.variants):
            if v.weight <= 0 or not any(i.ready for i in v.instances):
                continue
            total += v.weight
            current[k] += v.weight
            if best < 0 or current[k] > current[best]:
                best = k
        if best < 0:
            if any(v.weight > 0 for v in self.variants):
                raise NoTarget("not-ready", "No instance of this endpoint is ready to serve.")
            raise NoTarget("no-weight", "Every variant of this endpoint has weight 0; use TargetVariant.")
        current[best] -= total
        return self.variants[best]

    def _least_outstanding(self, variant: VariantLike, exclude: Sequence[Target] = ()) -> Target | None:
        instances = variant.instances
        n = len(instances)
        if n == 1:
            only = instances[0]
            return only if only.ready and only not in exclude else None
        self._turn += 1
        best = None
        for k in range(n):  # start at a rotating offset so ties spread evenly
            inst = instances[(self._turn + k) % n]
            if inst.ready and inst not in exclude and (best is None or inst.outstanding < best.outstanding):
                best = inst
        return best
