"""SageMaker handler of modelport's bundled chat model: a tiny character-level transformer (a demo).

Request (JSON): ``{"messages": [{"role": "user"|"assistant", "content": "..."}], "system": "...",
"maxTokens": 200, "temperature": 0.8, "topP": 0.95}``.
Response: JSON lines (``application/jsonlines``), streamed as they are made: ``{"delta": "..."}`` per
generated character, then ``{"done": true, "stopReason": "end_turn"|"max_tokens", "usage":
{"inputTokens", "outputTokens"}, "model": "..."}``. The generation is a generator, so the server streams
it; when the client goes away the server closes it and generation stops.

The model learnt one tweet per line, so the prompt is the recent turns one per line (the system
prompt first), and the reply is the next line. Environment: ``CHAT_MODEL_MAX_TOKENS`` (hard cap, default
1024), ``CHAT_MIN_TOKENS`` (do not end a reply before this many characters, default 1),
``CHAT_THREADS`` (torch threads, default 1), ``CHAT_TRACE_FILE`` (append generation progress there, for
debugging). Does not import modelport: ``chat_network`` and ``chat_tokenizer`` sit beside this file.
"""

import json
import os
import time

import torch

from chat_network import NetworkConfig, TinyGPT, sample_next
from chat_tokenizer import CharTokenizer

ROLES = ("user", "assistant")


class BadRequest(ValueError):
    """The request is not a chat request this model accepts."""


def model_fn(model_dir):
    """Load the network, its vocabulary and its name."""
    torch.set_num_threads(int(os.environ.get("CHAT_THREADS", "1")))
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    network = TinyGPT(NetworkConfig(**config["network"]))
    network.load_state_dict(torch.load(os.path.join(model_dir, "model.pt"), map_location="cpu", weights_only=True))
    network.eval()
    tokenizer = CharTokenizer.load(os.path.join(model_dir, "vocab.json"))
    return {"network": network, "tokenizer": tokenizer, "name": config.get("label") or config.get("name", "chat")}


def _error(status, message):
    try:
        from sagemaker_inference import errors

        return errors.GenericInferenceToolkitError(status, message)
    except ImportError:  # outside a SageMaker-compatible server
        return BadRequest(message)


def _number(data, key, default, low, high):
    value = data.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _error(400, f"{key} must be a number from {low} to {high}, got {value!r}")
    return value


def input_fn(body, content_type):
    """Parse and check the chat request."""
    if (content_type or "application/json").split(";")[0].strip() != "application/json":
        raise _error(415, f"this model accepts application/json, got {content_type}")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _error(400, f"the body is not JSON: {exc}") from None
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not messages:
        raise _error(400, 'send {"messages": [{"role": "user", "content": "..."}]}')
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise _error(400, "every message needs a role (user or assistant) and a string content")
    cap = int(os.environ.get("CHAT_MODEL_MAX_TOKENS", "1024"))
    return {
        "messages": messages,
        "system": data.get("system") if isinstance(data.get("system"), str) else "",
        "max_tokens": int(_number(data, "maxTokens", 200, 1, 1_000_000)) if cap else 200,
        "cap": cap,
        "temperature": float(_number(data, "temperature", 0.8, 0, 2)),
        "top_p": float(_number(data, "topP", 0.95, 0.01, 1)),
    }


def build_prompt(system, messages):
    """The recent turns one per line, newest last, ending with a newline: the reply is the next line."""
    lines = [" ".join(system.split())] if system.strip() else []
    lines += [" ".join(m["content"].split()) for m in messages]
    return "\n".join(line for line in lines if line) + "\n"


def _trace(line):
    path = os.environ.get("CHAT_TRACE_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def generate(request, model):
    """Yield {"delta": char} per generated character, then the summary; stops when closed."""
    network, tokenizer = model["network"], model["tokenizer"]
    context = network.config.context
    prompt_ids = tokenizer.encode(build_prompt(request["system"], request["messages"]))
    ids = prompt_ids[-context:]
    limit = min(request["max_tokens"], request["cap"])
    min_tokens = int(os.environ.get("CHAT_MIN_TOKENS", "1"))
    generated, stop_reason, finished = 0, "max_tokens", False
    _trace(f"start {limit}")
    try:
        with torch.no_grad():
            while generated < limit:
                logits = network(torch.tensor([ids[-context:]]))[0, -1]
                if generated < min_tokens:
                    logits[tokenizer.eot_id] = float("-inf")
                token = sample_next(logits, request["temperature"], request["top_p"])
                if token == tokenizer.eot_id:
                    stop_reason = "end_turn"
                    break
                ids.append(token)
                generated += 1
                _trace(f"token {generated}")
                yield {"delta": tokenizer.chars[token]}
        finished = True
        yield {"done": True, "stopReason": stop_reason, "model": model["name"],
               "usage": {"inputTokens": len(prompt_ids), "outputTokens": generated}}
    finally:
        _trace("finished" if finished else "closed")


def predict_fn(request, model):
    """The generation, as a generator (the server streams it)."""
    return generate(request, model)


def output_fn(prediction, accept):
    """JSON lines, streamed."""
    return prediction, "application/jsonlines"
