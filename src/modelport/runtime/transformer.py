"""Turn one request into one response by running the handler pipeline.

``model_fn`` runs once (``load``); each request then goes body → ``input_fn`` → ``predict_fn`` →
``output_fn`` (or ``transform_fn``) → bytes, with SageMaker's rules for decoding the body, picking
the Accept type and reading what ``output_fn`` returned.
"""

from __future__ import annotations

import collections.abc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from modelport.runtime import content_types as ct
from modelport.runtime import frameworks
from modelport.runtime.context import Context
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import BadRequest, NotAcceptable, StartupError, UnsupportedMediaType
from modelport.runtime.handlers import Handler, UserModule


@dataclass
class Result:
    """What a request produced: a body (bytes, or an iterator of bytes to stream) and its type."""

    status: int
    body: bytes | Iterator[bytes]
    content_type: str

    @property
    def streaming(self) -> bool:
        """Whether the body is streamed chunk by chunk."""
        return not isinstance(self.body, bytes)


def _call(handler: Handler, context: Context, *args: Any) -> Any:
    if handler.wants_context:
        return handler.function(*args, context)
    return handler.function(*args)


def _is_stream(value: Any) -> bool:
    return isinstance(value, collections.abc.Iterator) and not isinstance(value, (str, bytes, bytearray))


def _chunk_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    from modelport.runtime.codecs import encode_json

    return encode_json(chunk) + b"\n"


def _stream(iterator: Iterator[Any]) -> Iterator[bytes]:
    try:
        for chunk in iterator:
            data = _chunk_bytes(chunk)
            if data:
                yield data
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # a client that went away stops the generation


def _body_bytes(body: Any) -> bytes:
    """A handler's body as bytes: bytes as is, str as UTF-8, anything else as JSON (as MMS does)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    from modelport.runtime.codecs import encode_json

    try:
        return encode_json(body)
    except TypeError:
        return json.dumps(body, default=str).encode("utf-8")


def _is_response_object(value: Any) -> bool:
    # Flask / sagemaker_containers worker.Response objects carry their own status and type.
    return hasattr(value, "get_data") and hasattr(value, "status_code")


def _unsupported_format(exc: BaseException) -> bool:
    return type(exc).__name__ == "UnsupportedFormatError"


class Transformer:
    """Runs one model's handler pipeline. One instance per worker process."""

    def __init__(self, model_dir: Path, env: RuntimeEnvironment, user: UserModule):
        self.model_dir = model_dir
        self.env = env
        self.user = user
        self.context = Context(model_dir=str(model_dir))
        self.model: Any = None
        self.framework = "none"
        self.defaults_used: list[str] = []
        self._input_fn: Handler | None = None
        self._predict_fn: Handler | None = None
        self._output_fn: Handler | None = None
        self._transform_fn: Handler | None = user.handlers.get("transform_fn")
        self._default_output = False

    # --- start-up -------------------------------------------------------------------------

    def load(self) -> None:
        """Run ``pre_model_fn``, ``model_fn`` (exactly once), bind defaults, run ``model_warmup_fn``."""
        handlers = self.user.handlers
        if "pre_model_fn" in handlers:
            _call(handlers["pre_model_fn"], self.context, str(self.model_dir))
        if "model_fn" in handlers:
            self.model = _call(handlers["model_fn"], self.context, str(self.model_dir))
        else:
            self.defaults_used.append("model_fn")
            self.model = frameworks.default_model_fn(self.model_dir, self.env.framework)
        self.framework = frameworks.detect(self.model, self.env.framework)
        self._bind_pipeline()
        if "model_warmup_fn" in handlers:
            _call(handlers["model_warmup_fn"], self.context, str(self.model_dir), self.model)

    def _bind_pipeline(self) -> None:
        if self._transform_fn is not None:
            return
        defaults = frameworks.defaults_for(self.framework)
        bound = {}
        for name in ("input_fn", "predict_fn", "output_fn"):
            if name in self.user.handlers:
                bound[name] = self.user.handlers[name]
                continue
            if defaults[name] is None:
                raise frameworks.missing_predict_fn(self.framework, self.model)
            self.defaults_used.append(name)
            bound[name] = Handler(name, defaults[name], wants_context=False)
        self._input_fn, self._predict_fn, self._output_fn = bound["input_fn"], bound["predict_fn"], bound["output_fn"]
        self._default_output = "output_fn" in self.defaults_used

    # --- requests -------------------------------------------------------------------------

    def invoke(self, body: bytes, content_type: str | None, accept: str | None, headers: dict[str, str]) -> Result:
        """Run the pipeline for one request. Raises InferenceError (or any user exception)."""
        media, charset = ct.media_type(content_type)
        if media is None:
            media = ct.JSON  # as SageMaker's scikit-learn stack: no Content-Type means JSON
        data: Any = body
        if media in ct.TEXT_DECODED:
            try:
                data = body.decode(charset)
            except (UnicodeDecodeError, LookupError):
                raise BadRequest(f"The {media} body is not valid {charset} text.") from None
        if not accept or accept.strip() == ct.ANY:
            accept = self.env.default_accept
        context = self.context.for_request(headers) if self._wants_context() else self.context

        if self._transform_fn is not None:
            output = _call(self._transform_fn, context, self.model, data, media, accept)
        else:
            try:
                parsed = _call(self._input_fn, context, data, media)
            except Exception as exc:
                if _unsupported_format(exc):
                    raise UnsupportedMediaType(f"Content-Type {media!r} is not supported: {exc}") from exc
                raise
            prediction = _call(self._predict_fn, context, parsed, self.model)
            if _is_stream(prediction) and self._default_output:
                return Result(200, _stream(prediction), self._first_type(accept))
            try:
                output = _call(self._output_fn, context, prediction, accept)
            except Exception as exc:
                if _unsupported_format(exc):
                    raise NotAcceptable(f"Accept {accept!r} is not supported: {exc}") from exc
                raise
        return self._result(output, accept, context)

    def _wants_context(self) -> bool:
        return any(h is not None and h.wants_context for h in (self._input_fn, self._predict_fn, self._output_fn, self._transform_fn))

    def _first_type(self, accept: str) -> str:
        types = ct.parse_accept(accept)
        return types[0] if types else self.env.default_accept

    def _result(self, output: Any, accept: str, context: Context) -> Result:
        status = 200
        if _is_response_object(output):
            status = int(output.status_code)
            content_type = getattr(output, "mimetype", None) or getattr(output, "content_type", None)
            return Result(status, bytes(output.get_data()), content_type or self._first_type(accept))
        if isinstance(output, tuple) and len(output) == 2:
            body, content_type = output
        else:
            body, content_type = output, context.response_content_type or self._first_type(accept)
        if _is_stream(body):
            return Result(status, _stream(body), content_type)
        return Result(status, _body_bytes(body), content_type)


def build(model_dir: Path, env: RuntimeEnvironment, user: UserModule) -> Transformer:
    """A transformer for ``model_dir`` (not loaded yet)."""
    if not model_dir.is_dir():
        raise StartupError(f"Model directory {model_dir} does not exist.")
    return Transformer(model_dir, env, user)
