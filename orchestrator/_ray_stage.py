"""The Ray Data stage: each actor holds one client, every client draws on one shared budget.

Theory of operation
-------------------
``dataset.map_batches(GroqChat, ...)`` makes a pool of actors; Ray hands each a batch of rows at a time.
An actor's methods are plain blocking calls, and our client is trio, so each actor runs one trio loop on
a thread of its own (:class:`_ClientThread`) with the client open in it for the actor's life; a batch
crosses into it with ``trio.from_thread.run`` and all its rows run concurrently through ``Client.map``.

Rows in, rows out, one for one. The input column (``body`` by default) holds a chat body or a whole Groq
batch line, as a dict or as JSON text; each becomes a job exactly as a line of ``groq-orch batch`` does
(`orchestrator.batch._records.parse_line`), and each finished job becomes the same result record the
batch runner writes, kept whole in the ``record`` column and unpacked into ``response``, ``error``,
``error_code``, ``status_code``, ``request_id`` and the token columns. A row that cannot become a job,
or that fails, is a row with an error: nothing is dropped and nothing one row holds can fail the batch.

The budget: a ``redis_url`` shares the account's budget with every process using the same key, Ray or
not; without one, the cluster's `BudgetStore` actor holds it (`orchestrator._ray_budget`). Either way
the client learns the account's limits from headers and 429s once, for all actors.

If an actor dies mid-batch, Ray restarts it and runs the batch again (the stage asks for unlimited
restarts and task retries); a batch's rows are emitted only when it completes, so each row comes out
once. The API key reaches the actors through their environment (``GROQ_API_KEY``; `groq_chat` passes it
in ``runtime_env``), never through Ray's object store: a `SecretString` refuses to be pickled.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import trio

from orchestrator._errors import ConfigError
from orchestrator.batch._failpoints import failpoint
from orchestrator.batch._records import BadLine, bad_line_record, encode_record, finished_line, parse_line
from orchestrator.batch._run import ABORTS_RUN, map_guarded

__all__ = ["OUTPUT_COLUMNS", "GroqChat", "StageRow", "StageSettings"]

#: The columns the stage adds to every row.
OUTPUT_COLUMNS: Final = (
    "ok", "custom_id", "response", "error", "error_code", "status_code", "request_id",
    "prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "model", "record", "aborts_run",
    "line", "malformed", "retries", "rate_limited",
)

_decode_record = msgspec.json.Decoder().decode
_encode_json = msgspec.json.Encoder().encode


class StageSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every actor of the stage needs to open its client: plain values, no secret.

    The fields are those of `orchestrator.BatchOptions` with the same names, but ``workers``: the requests
    one actor keeps in flight (``Config.workers``, 64 by default). ``time_scale`` is the server's clock (the
    emulator's ``--time-scale``; 1.0 for Groq).
    """

    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    workers: int | None = None
    limits: Mapping[str, Any] | None = None
    tier: str | None = None
    model_map: Mapping[str, str] | None = None
    redis_url: str | None = None
    model: str | None = None
    time_scale: float = 1.0


class StageRow(msgspec.Struct, frozen=True):
    """One answered row: the result record, and whether its error is about the run rather than the row
    (``aborts_run``) or the line could not become a request at all (``malformed``)."""

    line: bytes
    aborts_run: bool
    malformed: bool = False
    error_code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    model: str | None = None


class _ClientThread:
    """A trio loop on a thread of its own, with one client open in it, for callers that are not trio."""

    def __init__(self, settings: StageSettings, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self._environ = dict(environ)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self.client: Any = None
        self._thread = threading.Thread(target=self._run, name="groq-orch-client", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as error:  # handed to the caller of the next call
            self._error = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        from orchestrator._client import open_client
        from orchestrator.batch._where import endpoint_for
        from orchestrator.batch._options import BatchOptions

        settings = self._settings
        options = BatchOptions(
            base_url=settings.base_url, timeout=settings.timeout, max_retries=settings.max_retries,
            concurrency=settings.workers, limits=settings.limits, tier=settings.tier,
            model_map=settings.model_map, redis_url=settings.redis_url, environ=self._environ,
        )
        endpoint = endpoint_for(options)
        if endpoint.emulator is not None:
            raise ConfigError(
                field="base_url", value=None,
                rule="is needed on a Ray actor without GROQ_API_KEY: give GROQ_API_KEY in the actors' "
                     "environment (runtime_env env_vars) or the URL of a served emulator (groq-orch emulate)",
            )
        async with open_client(endpoint.config, time_scale=settings.time_scale) as client:
            self.client = client
            self._token = trio.lowlevel.current_trio_token()
            self._stop = trio.Event()
            self._ready.set()
            await self._stop.wait()

    def call(self, function: Any, *args: Any) -> Any:
        """Run ``await function(*args)`` in the client's loop and return its result (blocking)."""
        if self._token is None:
            raise RuntimeError("the client thread never started") from self._error
        try:
            return trio.from_thread.run(function, *args, trio_token=self._token)
        except (trio.RunFinishedError, trio.Cancelled):
            # The client's loop ended under the call (its own error stopped it): raise that error.
            self._thread.join(timeout=10)
            raise (self._error or RuntimeError("the client stopped")) from None

    def close(self) -> None:
        """Close the client (leases go back to the shared budget) and end the thread."""
        if self._token is not None and self._stop is not None:
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
            except trio.RunFinishedError:
                pass
        self._thread.join(timeout=30)


async def answer_lines(client: Any, lines: Sequence[tuple[int, bytes, str | None]], *, model: str | None,
                       max_in_flight: int) -> list[StageRow]:
    """Answer ``(line number, raw line, custom_id or None)`` triples concurrently; one `StageRow` each, in
    order. A given custom_id wins over the line's own (a ``custom_id`` column beside a body column)."""
    answers: list[StageRow | None] = [None] * len(lines)

    async def pairs() -> AsyncIterator[tuple[Any, Any]]:
        for index, (number, raw, custom_id) in enumerate(lines):
            parsed = parse_line(raw, number, model=model, custom_id=custom_id)
            if isinstance(parsed, BadLine):
                answers[index] = StageRow(encode_record(bad_line_record(parsed)), False, True, parsed.code)
                continue
            yield (index, parsed), parsed.request

    async with map_guarded(client, pairs(), max_in_flight=max_in_flight) as results:
        async for result in results:
            index, job = result.key
            finished = finished_line(job, result)
            answers[index] = StageRow(
                finished.line, isinstance(result.error, ABORTS_RUN), False, finished.error_code,
                finished.prompt_tokens, finished.completion_tokens, finished.cached_tokens, finished.model,
            )
    missing = [index for index, answer in enumerate(answers) if answer is None]
    if missing:  # Client.map answers every job it is given; a gap is a bug, and must not lose rows silently
        raise RuntimeError(f"{len(missing)} rows of the batch got no answer")
    return answers  # type: ignore[return-value]


def _plain(value: Any) -> Any:
    """A row value as plain JSON data: numpy arrays become lists, and the nulls Arrow fills into a struct
    for keys other rows have are dropped (a dict column of bodies with different keys)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _raw_line(value: Any) -> bytes:
    """The JSONL line a row stands for: its text as it is, or its dict as JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return _encode_json(_plain(value))


def _custom_id(value: Any) -> str | None:
    """A ``custom_id`` column's value, None where the row has none (Arrow's null, pandas' NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


class GroqChat:
    """A Ray Data stage answering chat jobs through Groq: ``dataset.map_batches(GroqChat, ...)``.

    Each actor holds one client; all of them draw on one budget (see the module docstring). Use
    `orchestrator.ray.groq_chat` to get the pool size, resources, retries and API key right, or pass
    these yourself::

        ds.map_batches(GroqChat, fn_constructor_kwargs={"redis_url": url}, batch_size=32,
                       compute=ray.data.ActorPoolStrategy(size=4), num_cpus=0.25,
                       max_restarts=-1, max_task_retries=-1,
                       runtime_env={"env_vars": {"GROQ_API_KEY": key}})

    Args:
        column: the input column: a chat body or a Groq batch line per row, as a dict or JSON text.
        settings: a `StageSettings`, or its fields as keywords (``base_url``, ``model``, ``redis_url``...).
            With neither ``redis_url`` nor a running `BudgetStore`, one is started.
        raw_base64: the column holds base64 of the raw line and a ``line`` column its number (the form
            ``groq-orch batch --ray`` spools its input in, so that no byte of a line is changed).
    """

    def __init__(self, *, column: str = "body", settings: StageSettings | None = None,
                 raw_base64: bool = False, **fields: Any) -> None:
        settings = settings or StageSettings(**fields)
        if settings.redis_url is None:
            from orchestrator._ray_budget import shared_budget_url

            settings = msgspec.structs.replace(settings, redis_url=shared_budget_url())
        self._column = column
        self._raw_base64 = raw_base64
        self._settings = settings
        self._max_in_flight = 2 * (settings.workers or 64)
        self._thread = _ClientThread(settings, os.environ)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self._column not in batch:
            raise ConfigError(field="column", value=self._column,
                              rule=f"is not a column of the dataset (its columns: {', '.join(batch)})")
        values = batch[self._column]
        ids = batch.get("custom_id")
        if self._raw_base64:
            numbers = [int(number) for number in batch["line"]]
            lines = [(number, base64.b64decode(value), None) for number, value in zip(numbers, values)]
        else:
            numbers = list(range(1, len(values) + 1))
            lines = [(number, _raw_line(value), None if ids is None else _custom_id(ids[index]))
                     for index, (number, value) in enumerate(zip(numbers, values))]
        answers, retries, rate_limited = self._thread.call(self._answer, lines)
        failpoint("ray-batch")
        out = {name: value for name, value in batch.items() if name not in OUTPUT_COLUMNS}
        out.update(_columns(answers, numbers))
        # An actor answers one batch at a time, so the client's counters moved for this batch alone; the
        # first row carries the change, and a sum over the output is the stage's total.
        if len(numbers):
            out["retries"][0] = retries
            out["rate_limited"][0] = rate_limited
        return out

    async def _answer(self, lines: list[tuple[int, bytes, str | None]]) -> tuple[list[StageRow], int, int]:
        """The batch's answers, and the retries and 429s its jobs met (in the client's loop)."""
        client = self._thread.client
        before = client.statistics()
        answers = await answer_lines(client, lines, model=self._settings.model, max_in_flight=self._max_in_flight)
        after = client.statistics()
        return answers, after.retried - before.retried, after.rate_limited - before.rate_limited

    def __del__(self) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.close()


def _columns(answers: Sequence[StageRow], numbers: Sequence[int]) -> dict[str, np.ndarray]:
    """The output columns of a batch of answers (object arrays where a value may be missing)."""
    columns: dict[str, list[Any]] = {name: [] for name in OUTPUT_COLUMNS}
    for answer, number in zip(answers, numbers):
        record = _decode_record(answer.line)
        response = record.get("response") or {}
        error = record.get("error") or {}
        body = response.get("body")
        usage = (body or {}).get("usage") if error == {} and isinstance(body, dict) else None
        columns["ok"].append(answer.error_code is None)
        columns["custom_id"].append(record.get("custom_id"))
        columns["response"].append(_encode_json(body).decode() if error == {} and body is not None else None)
        columns["error"].append(error.get("message"))
        columns["error_code"].append(error.get("code"))
        columns["status_code"].append(response.get("status_code"))
        columns["request_id"].append(response.get("request_id"))
        columns["prompt_tokens"].append(answer.prompt_tokens)
        columns["completion_tokens"].append(answer.completion_tokens)
        columns["cached_tokens"].append(answer.cached_tokens)
        columns["model"].append(answer.model)
        columns["total_tokens"].append((usage or {}).get("total_tokens", answer.prompt_tokens + answer.completion_tokens))
        columns["record"].append(answer.line.decode())
        columns["aborts_run"].append(answer.aborts_run)
        columns["line"].append(number)
        columns["malformed"].append(answer.malformed)
        columns["retries"].append(0)
        columns["rate_limited"].append(0)
    arrays: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if name in ("prompt_tokens", "completion_tokens", "cached_tokens", "total_tokens", "line", "retries",
                    "rate_limited"):
            arrays[name] = np.asarray(values, dtype=np.int64)
        elif name in ("ok", "aborts_run", "malformed"):
            arrays[name] = np.asarray(values, dtype=bool)
        else:
            array = np.empty(len(values), dtype=object)
            array[:] = values
            arrays[name] = array
    return arrays
