"""The model table: public model names → SageMaker endpoint names, with kind and labels.

Each entry is a ``Route`` (the word ``MODELPORT_ROUTES`` uses): what ``POST /predict/{model}`` and
``GET /models`` look up, not an HTTP route (those are ``*_routes.py`` and ``chat/routes.py``).

Built from the seed-style variables (``MNIST_SKLEARN_ENDPOINT``, ``MNIST_PYTORCH_ENDPOINT``,
``SENTIMENT_ENDPOINT``) and ``MODELPORT_ROUTES``, which adds routes or overrides them. Accepted forms of
``MODELPORT_ROUTES``:

- ``name=endpoint,name2=endpoint2``
- JSON object ``{"name": "endpoint"}`` or ``{"name": {"endpoint": ..., "kind": ..., "labels": [...], "target": ...}}``
- JSON list ``[{"name": ..., "endpoint": ..., "kind": ..., "labels": [...], "target": ...}]``

``target`` makes the route one model of a multi-model endpoint: its ``TargetModel`` (e.g. ``digits.tar.gz``).

The bundled models are always listed; one without an endpoint answers 503 and says which variable to set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from modelport.gateway.settings import GatewaySettings

IMAGE_CLASSIFIER = "image-classifier"
TEXT_CLASSIFIER = "text-classifier"
CHAT = "chat"
CUSTOM = "custom"
KINDS = (IMAGE_CLASSIFIER, TEXT_CLASSIFIER, CHAT, CUSTOM)

DIGIT_LABELS = tuple(str(d) for d in range(10))
SENTIMENT_LABELS = ("negative", "neutral", "positive")

# SageMaker's rule for endpoint names.
ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROUTE_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Route:
    """One public model: its name, what it is, and the endpoint that serves it (None: not configured)."""

    name: str
    kind: str
    endpoint: str | None
    labels: tuple[str, ...] = ()
    env_var: str | None = None  # the variable that configures it, named in 503 messages
    target: str | None = None  # TargetModel, when the endpoint is a multi-model endpoint

    @property
    def configured(self) -> bool:
        """Whether an endpoint is set for this route."""
        return bool(self.endpoint)


@dataclass
class ModelTable:
    """Every public model's route by name, plus configuration problems found while building them."""

    routes: dict[str, Route] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def get(self, name: str) -> Route | None:
        """The route called `name`, or None."""
        return self.routes.get(name)


def default_kind(name: str) -> str:
    """Kind of a route from its name: mnist-* are digit classifiers, sentiment* text, chat* chat."""
    if name.startswith("mnist"):
        return IMAGE_CLASSIFIER
    if name.startswith("sentiment"):
        return TEXT_CLASSIFIER
    if name.startswith("chat"):
        return CHAT
    return CUSTOM


def default_labels(kind: str) -> tuple[str, ...]:
    """Labels of the bundled kinds (digit classes 0-9, sentiment classes); none for others."""
    if kind == IMAGE_CLASSIFIER:
        return DIGIT_LABELS
    if kind == TEXT_CLASSIFIER:
        return SENTIMENT_LABELS
    return ()


MAX_TARGET_LENGTH = 1024  # SageMaker's TargetModel: 1-1024 printable characters, not starting with a space


def target_problem(target: object) -> str | None:
    """Why ``target`` cannot be a TargetModel (None: it can)."""
    if not isinstance(target, str) or not 1 <= len(target) <= MAX_TARGET_LENGTH or target[0].isspace() \
            or not target.isprintable():
        return (f"target must be 1 to {MAX_TARGET_LENGTH} printable characters, not starting with a space: the "
                f"TargetModel of a multi-model endpoint, e.g. model1.tar.gz")
    return None


def _route(name: str, endpoint: str | None, kind: str | None = None, labels=None, env_var=None,
           target=None) -> Route:
    if not ROUTE_NAME_RE.match(name):
        raise ValueError(f"route name {name!r} is not valid: use letters, digits, '.', '_' or '-' (at most 63)")
    if endpoint and not ENDPOINT_NAME_RE.match(endpoint):
        raise ValueError(
            f"endpoint name {endpoint!r} of route {name!r} is not a valid SageMaker endpoint name "
            "(letters, digits and hyphens, at most 63)"
        )
    kind = kind or default_kind(name)
    if kind not in KINDS:
        raise ValueError(f"route {name!r} has kind {kind!r}; accepted kinds: {', '.join(KINDS)}")
    if labels is None:
        labels = default_labels(kind)
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, (str, int)) for x in labels):
        raise ValueError(f"labels of route {name!r} must be a list of strings")
    if target is not None and (problem := target_problem(target)):
        raise ValueError(f"route {name!r}: {problem}")
    return Route(name=name, kind=kind, endpoint=endpoint or None, labels=tuple(str(x) for x in labels), env_var=env_var,
                 target=target)


def parse_routes(value: str) -> list[Route]:
    """Parse MODELPORT_ROUTES into routes; raises ValueError with a message that says what is accepted."""
    text = value.strip()
    if not text:
        return []
    hint = ("MODELPORT_ROUTES accepts `name=endpoint,...`, a JSON object {name: endpoint | {endpoint, kind, labels, "
            "target}}, or a JSON list of {name, endpoint, kind, labels, target}")
    if text[0] in "{[":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"MODELPORT_ROUTES is not valid JSON ({exc}); {hint}") from None
        items = data.items() if isinstance(data, dict) else None
        if isinstance(data, list):
            items = []
            for entry in data:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ValueError(f"every item of the MODELPORT_ROUTES list needs a \"name\"; {hint}")
                items.append((entry["name"], entry))
        routes = []
        for name, spec in items:
            if isinstance(spec, str):
                routes.append(_route(name, spec))
            elif isinstance(spec, dict):
                endpoint = spec.get("endpoint")
                if endpoint is not None and not isinstance(endpoint, str):
                    raise ValueError(f"endpoint of route {name!r} must be a string; {hint}")
                routes.append(_route(name, endpoint, spec.get("kind"), spec.get("labels"), target=spec.get("target")))
            else:
                raise ValueError(f"route {name!r} must map to an endpoint name or an object; {hint}")
        return routes
    routes = []
    for pair in text.split(","):
        if not pair.strip():
            continue
        name, sep, endpoint = pair.partition("=")
        if not sep or not name.strip() or not endpoint.strip():
            raise ValueError(f"MODELPORT_ROUTES item {pair.strip()!r} is not `name=endpoint`; {hint}")
        routes.append(_route(name.strip(), endpoint.strip()))
    return routes


def build_model_table(settings: GatewaySettings) -> ModelTable:
    """The model table the gateway serves: the bundled three, then MODELPORT_ROUTES on top."""
    table = ModelTable()
    seeds = (
        ("mnist-sklearn", settings.mnist_sklearn_endpoint, "MNIST_SKLEARN_ENDPOINT"),
        ("mnist-pytorch", settings.mnist_pytorch_endpoint, "MNIST_PYTORCH_ENDPOINT"),
        ("sentiment", settings.sentiment_endpoint, "SENTIMENT_ENDPOINT"),
    )
    for name, endpoint, env_var in seeds:
        try:
            table.routes[name] = _route(name, endpoint.strip() or None, env_var=env_var)
        except ValueError as exc:
            table.errors.append(f"{env_var}: {exc}")
            table.routes[name] = Route(name, default_kind(name), None, default_labels(default_kind(name)), env_var)
    try:
        for route in parse_routes(settings.routes):
            table.routes[route.name] = route
    except ValueError as exc:
        table.errors.append(str(exc))
    return table
