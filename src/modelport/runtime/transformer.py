"""Turn one request into one response by running the handler pipeline.

``model_fn`` runs once (``load``); each request then goes body → ``input_fn`` → ``predict_fn`` →
``output_fn`` (or ``transform_fn``) → bytes, with SageMaker's rules for decoding the body, picking
the Accept type and reading what ``output_fn`` returned.

With batching on (``app.BatchingApp``) several requests go through ``invoke_batch``: each is decoded on
its own, the inputs are predicted in one call — ``predict_batch_fn(inputs, model)``,
``transform_batch_fn(model, data, content_types, accepts)``, or the default scikit-learn / PyTorch
predict_fn on the stacked arrays (``stacking``) — and each prediction is encoded on its own. A request
whose decoding or encoding fails gets its own error; when the batched call raises (or returns the
wrong number of items), its inputs are predicted again one by one, so only the bad one fails.
"""

from __future__ import annotations

import collections.abc
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from modelport.runtime import content_types as ct
from modelport.runtime import frameworks, stacking
from modelport.runtime.context import Context
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import (
    BadRequest,
    InferenceError,
    InferenceTimeout,
    NotAcceptable,
    StartupError,
    UnsupportedMediaType,
)
from modelport.runtime.handlers import Handler, UserModule

logger = logging.getLogger("modelport.runtime")

# how a batch is predicted in one call (Transformer.batch_mode; None: this model does not batch)
BY_PREDICT_BATCH_FN = "predict_batch_fn"
BY_TRANSFORM_BATCH_FN = "transform_batch_fn"
BY_STACKING = "stacking"


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


def _items(value: Any, count: int, name: str) -> list[Any]:
    """A batch function's answer as one item per input (a list, tuple or array of exactly ``count``)."""
    if isinstance(value, (str, bytes, bytearray, dict)) or not hasattr(value, "__len__") or len(value) != count:
        size = len(value) if hasattr(value, "__len__") else "no length"
        raise InferenceError(f"{name} returned a {type(value).__name__} ({size}) for {count} input(s); it must "
                             "return one item per input, in order.")
    return [value[i] for i in range(count)]


def _one_of_batch(handler: Handler, name: str) -> Handler:
    """A batch function used for a single request: predict_fn from predict_batch_fn, transform_fn from
    transform_batch_fn (lists of one in, the one item out)."""
    batch = handler.function
    if handler.name == "predict_batch_fn":
        def single(data: Any, model: Any, *context: Any) -> Any:
            return _items(batch([data], model, *context), 1, handler.name)[0]
    else:
        def single(model: Any, data: Any, content_type: Any, accept: Any, *context: Any) -> Any:
            return _items(batch(model, [data], [content_type], [accept], *context), 1, handler.name)[0]
    return Handler(name, single, handler.wants_context)


class _Failed:
    """Marks an input that failed (its exception is already in the outcomes)."""


_FAILED = _Failed()


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
        self._predict_batch_fn: Handler | None = user.handlers.get("predict_batch_fn")
        self._transform_batch_fn: Handler | None = user.handlers.get("transform_batch_fn")
        if self._transform_fn is None and self._transform_batch_fn is not None:
            self._transform_fn = _one_of_batch(self._transform_batch_fn, "transform_fn")
        self._default_output = False
        self.batch_mode: str | None = None

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
        self.batch_mode = self._batch_mode()
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
            if name == "predict_fn" and self._predict_batch_fn is not None:
                bound[name] = _one_of_batch(self._predict_batch_fn, name)
                continue
            if defaults[name] is None:
                raise frameworks.missing_predict_fn(self.framework, self.model)
            self.defaults_used.append(name)
            bound[name] = Handler(name, defaults[name], wants_context=False)
        self._input_fn, self._predict_fn, self._output_fn = bound["input_fn"], bound["predict_fn"], bound["output_fn"]
        self._default_output = "output_fn" in self.defaults_used

    def _batch_mode(self) -> str | None:
        if self._transform_batch_fn is not None:
            return BY_TRANSFORM_BATCH_FN
        if self._predict_batch_fn is not None:
            return BY_PREDICT_BATCH_FN
        if self._transform_fn is None and "predict_fn" in self.defaults_used and self.framework in ("sklearn", "pytorch"):
            return BY_STACKING
        return None

    # --- requests -------------------------------------------------------------------------

    def invoke(self, body: bytes, content_type: str | None, accept: str | None, headers: dict[str, str]) -> Result:
        """Run the pipeline for one request. Raises InferenceError (or any user exception)."""
        data, media, accept, context = self._prepare(body, content_type, accept, headers)
        if self._transform_fn is not None:
            output = _call(self._transform_fn, context, self.model, data, media, accept)
            return self._result(output, accept, context)
        parsed = self._decode(data, media, context)
        prediction = _call(self._predict_fn, context, parsed, self.model)
        return self._encode(prediction, accept, context)

    def _prepare(self, body: bytes, content_type: str | None, accept: str | None,
                 headers: dict[str, str]) -> tuple[Any, str, str, Context]:
        """The body as input_fn receives it, its media type, the Accept to answer and the context."""
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
        return data, media, accept, context

    def _decode(self, data: Any, media: str, context: Context) -> Any:
        try:
            return _call(self._input_fn, context, data, media)
        except Exception as exc:
            if _unsupported_format(exc):
                raise UnsupportedMediaType(f"Content-Type {media!r} is not supported: {exc}") from exc
            raise

    def _encode(self, prediction: Any, accept: str, context: Context) -> Result:
        if _is_stream(prediction) and self._default_output:
            return Result(200, _stream(prediction), self._first_type(accept))
        try:
            output = _call(self._output_fn, context, prediction, accept)
        except Exception as exc:
            if _unsupported_format(exc):
                raise NotAcceptable(f"Accept {accept!r} is not supported: {exc}") from exc
            raise
        return self._result(output, accept, context)

    # --- batches --------------------------------------------------------------------------

    def invoke_batch(self, requests: list[tuple[bytes, str | None, str | None, dict[str, str]]]) -> list[Any]:
        """Run the pipeline for several requests with one predict call where possible.

        ``requests`` are (body, content type, accept, headers); returns per request a Result or the
        exception that request failed with. Only InferenceTimeout (the deadline) is raised: it ends the batch.
        """
        outcomes: list[Any] = [None] * len(requests)
        prepared = [_attempt(outcomes, i, self._prepare, *request) for i, request in enumerate(requests)]
        if self.batch_mode == BY_TRANSFORM_BATCH_FN:
            self._transform_batch(prepared, outcomes)
            return outcomes
        parsed = [_FAILED if p is _FAILED else _attempt(outcomes, i, self._decode, p[0], p[1], p[3])
                  for i, p in enumerate(prepared)]
        predictions = self._predict_batch(parsed, prepared, outcomes)
        for i, prediction in enumerate(predictions):
            if prediction is not _FAILED:
                _, _, accept, context = prepared[i]
                _keep(outcomes, i, _attempt(outcomes, i, self._encode, prediction, accept, context))
        return outcomes

    def _transform_batch(self, prepared: list[Any], outcomes: list[Any]) -> None:
        live = [i for i, p in enumerate(prepared) if p is not _FAILED]
        if not live:
            return
        columns = [[prepared[i][k] for i in live] for k in (0, 1, 2)]  # data, media types, accepts
        outputs = _attempt(None, 0, self._call_batch, self._transform_batch_fn, len(live), self.model, *columns)
        for j, i in enumerate(live):
            data, media, accept, context = prepared[i]
            output = outputs[j] if outputs is not _FAILED else _attempt(
                outcomes, i, _call, self._transform_fn, context, self.model, data, media, accept)
            if output is not _FAILED:
                _keep(outcomes, i, _attempt(outcomes, i, self._result, output, accept, context))

    def _predict_batch(self, parsed: list[Any], prepared: list[Any], outcomes: list[Any]) -> list[Any]:
        """One prediction per input (_FAILED where it failed, its exception in ``outcomes``)."""
        predictions: list[Any] = [_FAILED] * len(parsed)
        groups: list[list[int]] = []
        if self.batch_mode == BY_PREDICT_BATCH_FN:
            groups.append([i for i, p in enumerate(parsed) if p is not _FAILED])
        else:
            by_key: dict[Any, list[int]] = {}
            for i, p in enumerate(parsed):
                if p is not _FAILED:
                    key = stacking.group_key(self.framework, p)
                    by_key.setdefault(("alone", i) if key is None else key, []).append(i)
            groups.extend(by_key.values())
        for group in groups:
            batched = self._predict_together([parsed[i] for i in group]) if len(group) > 1 else _FAILED
            for j, i in enumerate(group):
                if batched is not _FAILED:
                    predictions[i] = batched[j]
                else:  # alone, or the batched call failed: one by one, so only a bad input fails
                    predictions[i] = _attempt(outcomes, i, _call, self._predict_fn, prepared[i][3], parsed[i], self.model)
        return predictions

    def _predict_together(self, inputs: list[Any]) -> Any:
        """One prediction per input from one call, or _FAILED (the caller then predicts them one by one)."""
        if self.batch_mode == BY_PREDICT_BATCH_FN:
            return _attempt(None, 0, self._call_batch, self._predict_batch_fn, len(inputs), inputs, self.model)
        pieces = _attempt(None, 0, self._predict_stacked, inputs)
        return _FAILED if pieces is None else pieces

    def _predict_stacked(self, inputs: list[Any]) -> list[Any] | None:
        prediction = _call(self._predict_fn, self.context, stacking.stack(inputs), self.model)
        return stacking.split(prediction, [stacking.rows(x) for x in inputs])

    def _call_batch(self, handler: Handler, count: int, *args: Any) -> list[Any]:
        return _items(_call(handler, self.context, *args), count, handler.name)

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


def _attempt(outcomes: list[Any] | None, index: int, function: Any, *args: Any) -> Any:
    """``function(*args)``, or _FAILED with the exception kept in ``outcomes[index]`` (when given).

    The deadline's InferenceTimeout is not one input's failure: it ends the whole batch.
    """
    try:
        return function(*args)
    except InferenceTimeout:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code may raise anything
        if outcomes is not None:
            outcomes[index] = exc
        else:
            logger.info("a batched call failed (%s: %s); its inputs are predicted one by one", type(exc).__name__, exc)
        return _FAILED


def _keep(outcomes: list[Any], index: int, result: Any) -> None:
    if result is not _FAILED:  # (a failure's exception is in outcomes already)
        outcomes[index] = result


def build(model_dir: Path, env: RuntimeEnvironment, user: UserModule) -> Transformer:
    """A transformer for ``model_dir`` (not loaded yet)."""
    if not model_dir.is_dir():
        raise StartupError(f"Model directory {model_dir} does not exist.")
    return Transformer(model_dir, env, user)
