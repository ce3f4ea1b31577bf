"""Pick where a request goes: a variant by weight (or ``TargetVariant``), then the instance with
the fewest requests in flight.

Weights use smooth weighted round-robin (as nginx does): over any run of calls each variant gets
its share ``weight / sum(weights)`` within one call, and picks interleave instead of bunching.
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
        self._by_name = {v.name: v for v in self.variants}
        self._current = {v.name: 0.0 for v in self.variants}
        self._turn = 0

    def pick(self, target_variant: str | None = None, exclude: Sequence[Target] = ()) -> tuple[VariantLike, Target]:
        """Choose a variant and one of its ready instances (not in ``exclude``, e.g. instances that just
        failed); raise :class:`NoTarget` when none can serve."""
        if target_variant:
            variant = self._by_name.get(target_variant)
            if variant is None:
                names = ", ".join(self._by_name) or "none"
                raise NoTarget("unknown-variant", f"Variant {target_variant} not found; this endpoint has: {names}.")
            instance = self._least_outstanding(variant, exclude)
            if instance is None:
                raise NoTarget("not-ready", f"No instance of variant {variant.name} is ready to serve.")
            return variant, instance
        variant = self._weighted_choice()
        instance = self._least_outstanding(variant, exclude)
        if instance is None:  # its instances went down between the two checks
            raise NoTarget("not-ready", f"No instance of variant {variant.name} is ready to serve.")
        return variant, instance

    def _weighted_choice(self) -> VariantLike:
        best = None
        total = 0.0
        current = self._current
        for v in self.variants:
            if v.weight <= 0 or not any(i.ready for i in v.instances):
                continue
            total += v.weight
            current[v.name] += v.weight
            if best is None or current[v.name] > current[best.name]:
                best = v
        if best is None:
            if any(v.weight > 0 for v in self.variants):
                raise NoTarget("not-ready", "No instance of this endpoint is ready to serve.")
            raise NoTarget("no-weight", "Every variant of this endpoint has weight 0; use TargetVariant.")
        current[best.name] -= total
        return best

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
