"""Train the bundled chat model from scratch on CPU: a tiny character-level transformer on tweets.

``train(out)`` writes ``out/artifacts/`` (``model.pt`` state dict, ``config.json``, ``vocab.json``),
``out/metrics.json`` (held-out perplexity per character, sizes, time, data set, a sample) and the packed
``out/model.tar.gz``. The full run fits in 10 minutes on 2 cores (a step budget plus a time budget);
``fast=True`` trains a toy-sized model on a slice of the data in seconds, for tests.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "modelport-demo-chat"
MODEL_LABEL = "modelport-demo-chat (pipeline demo: a tiny character-level transformer trained on tweets)"


@dataclass(frozen=True)
class Recipe:
    """Sizes and schedule of one training run."""

    context: int
    width: int
    layers: int
    heads: int
    batch: int
    steps: int
    learning_rate: float
    time_budget_s: float
    train_texts: int | None = None  # a slice of the corpus (fast runs); None: all of it
    test_texts: int | None = None


FULL = Recipe(context=96, width=128, layers=3, heads=4, batch=24, steps=2400, learning_rate=2e-3, time_budget_s=480)
FAST = Recipe(context=48, width=48, layers=2, heads=2, batch=16, steps=30, learning_rate=3e-3, time_budget_s=60,
              train_texts=1500, test_texts=200)


def _threads() -> int:
    # One thread: these matrices are small, and on a shared 2-core machine more threads made steps
    # 7-15x slower (oversubscription) while on an idle one they gain little.
    return int(os.environ.get("MODELPORT_TRAIN_THREADS", "1"))


def _learning_rate(step: int, recipe: Recipe) -> float:
    warmup = max(1, recipe.steps // 20)
    if step < warmup:
        return recipe.learning_rate * (step + 1) / warmup
    progress = (step - warmup) / max(1, recipe.steps - warmup)
    return recipe.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _stream(tokenizer, texts: list[str]):
    """All texts as one id tensor, each tweet followed by the end-of-turn newline."""
    import torch

    return torch.tensor(tokenizer.encode("".join(t + "\n" for t in texts)), dtype=torch.long)


def held_out_loss(model, ids, context: int, batch: int = 64) -> float:
    """Mean next-character cross-entropy (nats) over `ids`, in non-overlapping windows."""
    import torch
    from torch.nn import functional as F

    windows = (len(ids) - 1) // context
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for start in range(0, windows, batch):
            rows = range(start, min(windows, start + batch))
            x = torch.stack([ids[r * context:(r + 1) * context] for r in rows])
            y = torch.stack([ids[r * context + 1:(r + 1) * context + 1] for r in rows])
            logits = model(x)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
            count += y.numel()
    model.train()
    return total / max(1, count)


def sample(model, tokenizer, prompt: str, length: int, seed: int) -> str:
    """A short generation from `prompt` (for metrics.json: shows what the model writes)."""
    import torch

    from modelport.chatmodel.chat_network import sample_next

    generator = torch.Generator().manual_seed(seed)
    ids = tokenizer.encode(prompt)
    out = []
    model.eval()
    with torch.no_grad():
        for _ in range(length):
            logits = model(torch.tensor([ids[-model.config.context:]]))[0, -1]
            token = sample_next(logits, 0.8, 0.95, generator)
            if token == tokenizer.eot_id:
                break
            ids.append(token)
            out.append(token)
    return tokenizer.decode(out)


def train(out: Path, fast: bool = False, seed: int = 0, quiet: bool = False) -> Path:
    """Train the chat model into `out` and return the path of `out/model.tar.gz` (metrics.json beside it)."""
    import torch
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from torch.nn import functional as F

    from modelport.chatmodel.chat_network import NetworkConfig, TinyGPT
    from modelport.chatmodel.chat_tokenizer import CharTokenizer
    from modelport.chatmodel.corpus import load_corpus
    from modelport.chatmodel.pack import pack_chat_model

    from modelport.progress import progress
    from modelport.training import fresh_artifacts_dir

    recipe = FAST if fast else FULL
    out = Path(out)
    artifacts = fresh_artifacts_dir(out)
    started = time.perf_counter()
    cpu_started = time.process_time()
    torch.manual_seed(seed)
    threads = _threads()
    torch.set_num_threads(threads)

    corpus = load_corpus()
    train_texts = corpus.train[:recipe.train_texts] if recipe.train_texts else corpus.train
    test_texts = corpus.test[:recipe.test_texts] if recipe.test_texts else corpus.test
    tokenizer = CharTokenizer.build(train_texts, min_count=2 if fast else 5)
    train_ids, test_ids = _stream(tokenizer, train_texts), _stream(tokenizer, test_texts)

    config = NetworkConfig(vocab_size=tokenizer.size, context=recipe.context, width=recipe.width,
                           layers=recipe.layers, heads=recipe.heads)
    model = TinyGPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=0.01, betas=(0.9, 0.98))
    batches = torch.Generator().manual_seed(seed)
    offsets = torch.arange(config.context + 1)
    steps_done, train_loss, stopped_by_time = 0, float("nan"), False
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn())
    with progress("training chat model", total=recipe.steps, unit="steps", columns=columns, fields={"loss": "-"},
                  quiet=quiet) as tracker:
        for step in range(recipe.steps):
            if time.perf_counter() - started > recipe.time_budget_s:
                stopped_by_time = True
                break
            starts = torch.randint(0, len(train_ids) - config.context - 1, (recipe.batch,), generator=batches)
            window = train_ids[starts[:, None] + offsets]
            logits = model(window[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, config.vocab_size), window[:, 1:].reshape(-1))
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(step, recipe)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps_done = step + 1
            train_loss = 0.9 * train_loss + 0.1 * loss.item() if step else loss.item()
            tracker.update(completed=steps_done, loss=f"{train_loss:.3f}")
    train_seconds = time.perf_counter() - started

    with progress("evaluating the chat model on held-out tweets", quiet=quiet):
        test_loss = held_out_loss(model, test_ids, config.context)
    torch.save(model.state_dict(), artifacts / "model.pt")
    tokenizer.save(artifacts / "vocab.json")
    (artifacts / "config.json").write_text(json.dumps({
        "name": MODEL_NAME, "label": MODEL_LABEL, "network": config.to_dict(),
        "turn_separator": "\\n", "prompt": "recent turns, one per line, newest last; the reply is the next line",
    }, indent=2))
    metrics = {
        "model": MODEL_NAME,
        "label": MODEL_LABEL,
        "task": "character-level language model (the bundled chat demo)",
        "fast": fast,
        "seed": seed,
        "held_out": {"perplexity": round(math.exp(test_loss), 4), "bits_per_char": round(test_loss / math.log(2), 4),
                     "loss_nats": round(test_loss, 4), "characters": int(len(test_ids))},
        "train": {"loss_nats_ema": round(train_loss, 4), "steps": steps_done, "planned_steps": recipe.steps,
                  "stopped_by_time_budget": stopped_by_time, "batch": recipe.batch,
                  "characters": int(len(train_ids)), "seconds": round(train_seconds, 1),
                  "cpu_seconds": round(time.process_time() - cpu_started, 1), "threads": threads},
        "network": {**config.to_dict(), "parameters": model.parameter_count()},
        "vocabulary": tokenizer.size,
        "dataset": corpus.source,
        "sample": {"prompt": "I love my new car\n", "reply": sample(model, tokenizer, "I love my new car\n", 120, seed)},
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
    }
    archive = pack_chat_model(artifacts, out / "model.tar.gz", quiet=quiet)
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    return archive
