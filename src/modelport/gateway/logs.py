"""Structured JSON logs of the gateway: one line per request, never request bodies or API keys."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

LOGGER_NAME = "modelport.gateway"


def get_logger() -> logging.Logger:
    """The gateway's logger, writing bare JSON lines to stderr (CloudWatch in Lambda) unless configured."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_json(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one JSON object: timestamp, level, event name and the given fields (None values dropped)."""
    if not logger.isEnabledFor(level):
        return
    record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z", "level": logging.getLevelName(level), "event": event}
    record.update((k, v) for k, v in fields.items() if v is not None)
    logger.log(level, orjson.dumps(record, default=str).decode())
