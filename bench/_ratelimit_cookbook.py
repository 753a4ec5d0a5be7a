"""Contender (c): the openai-cookbook "parallel processor", ported to httpx on asyncio.

``examples/api_request_parallel_processor.py`` in openai/openai-cookbook is the pattern most
batch scripts copy (see ``/work/shared/GROQ-API.md`` section 2). This is a faithful port of its
main loop and its ``APIRequest.call_api``, with three changes, all of them named here:

- **transport**: ``httpx.AsyncClient`` instead of ``aiohttp.ClientSession`` (aiohttp is not in
  the venv); one shared client, as the original shares one session, with aiohttp's defaults
  (100 connections, 300 s timeout);
- **time**: the emulator compresses time by ``time_scale``, so the capacity refill counts
  *emulated* seconds (``real seconds * time_scale``) and the 15-second pause after a rate-limit
  error lasts ``15 / time_scale`` real seconds. The 1 ms sleep per loop stays 1 ms of real time
  (it only bounds the dispatch rate, to 1,000 requests per real second);
- **token estimate**: the original counts prompt tokens with tiktoken (``4`` per message, the
  encoded length of every value, ``2`` for the reply priming) and adds ``max_tokens`` (default
  15). tiktoken is not installed, so each value costs ``ceil(len/4)`` tokens, the emulator's own
  rule (favourable to this contender: its prompt estimate is then exact up to the per-message
  role token); and it reads today's ``max_completion_tokens`` as well as ``max_tokens``, since
  our workload uses the current field name and the original would otherwise assume 15.

Everything else is as in the cookbook: fixed RPM/TPM budgets that refill continuously (capped
at one minute's worth), a request dispatched only when a whole request and its estimated tokens
are available, failed requests put on a retry queue that is served before new work, at most
``max_attempts`` (5) attempts, and after any error whose message mentions "rate limit" a global
pause of 15 seconds from the time of that error. Tokens spent on a request are never given
back, so the TPM budget is charged the completion *budget*, not what was used.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["ProcessorRecord", "StatusTracker", "run_parallel_processor"]

SECONDS_TO_PAUSE_AFTER_RATE_LIMIT_ERROR = 15
SECONDS_TO_SLEEP_EACH_LOOP = 0.001


@dataclass
class StatusTracker:
    """The cookbook's counters (one instance per run)."""

    num_tasks_started: int = 0
    num_tasks_in_progress: int = 0
    num_tasks_succeeded: int = 0
    num_tasks_failed: int = 0
    num_rate_limit_errors: int = 0
    num_api_errors: int = 0
    num_other_errors: int = 0
    time_of_last_rate_limit_error: float = float("-inf")
    num_requests_sent: int = 0


@dataclass
class ProcessorRecord:
    """What the benchmark keeps of one finished request (seconds since the run's origin)."""

    key: Any
    ok: bool
    first_sent: float
    finished: float
    tokens: int


@dataclass
class APIRequest:
    """One request, its token estimate, and its attempts (the cookbook's dataclass)."""

    task_id: int
    request_json: dict[str, Any]
    token_consumption: int
    attempts_left: int
    key: Any
    first_sent: float | None = None
    result: list[Any] = field(default_factory=list)

    async def call_api(
        self,
        client: httpx.AsyncClient,
        request_url: str,
        request_header: dict[str, str],
        retry_queue: asyncio.Queue[APIRequest],
        records: list[ProcessorRecord],
        status_tracker: StatusTracker,
        origin: float,
    ) -> None:
        """Send the request once; on error put it on the retry queue, or record its failure."""
        error: Any = None
        if self.first_sent is None:
            self.first_sent = time.perf_counter() - origin
        status_tracker.num_requests_sent += 1
        response: dict[str, Any] = {}
        try:
            reply = await client.post(request_url, headers=request_header, json=self.request_json)
            response = reply.json()
            if "error" in response:
                status_tracker.num_api_errors += 1
                error = response
                if "rate limit" in str(response["error"].get("message", "")).lower():
                    status_tracker.time_of_last_rate_limit_error = time.perf_counter()
                    status_tracker.num_rate_limit_errors += 1
                    status_tracker.num_api_errors -= 1  # rate limit errors are counted separately
        except Exception as exc:  # the cookbook catches everything here, by design
            status_tracker.num_other_errors += 1
            error = exc
        if error:
            self.result.append(error)
            if self.attempts_left:
                retry_queue.put_nowait(self)
            else:
                records.append(ProcessorRecord(self.key, False, self.first_sent, time.perf_counter() - origin, 0))
                status_tracker.num_tasks_in_progress -= 1
                status_tracker.num_tasks_failed += 1
        else:
            usage = response.get("usage") or {}
            records.append(
                ProcessorRecord(
                    self.key,
                    True,
                    self.first_sent,
                    time.perf_counter() - origin,
                    int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0)),
                )
            )
            status_tracker.num_tasks_in_progress -= 1
            status_tracker.num_tasks_succeeded += 1


def _value_tokens(value: Any) -> int:
    return (len(value) + 3) // 4 if isinstance(value, str) else 0


def num_tokens_consumed_from_request(request_json: dict[str, Any]) -> int:
    """The cookbook's chat estimate: 4 per message + each value's tokens + 2, plus n * max tokens."""
    max_tokens = request_json.get("max_tokens", request_json.get("max_completion_tokens", 15))
    n = request_json.get("n", 1)
    completion_tokens = n * max_tokens
    num_tokens = 0
    for message in request_json["messages"]:
        num_tokens += 4  # every message follows <im_start>{role/name}\n{content}<im_end>\n
        for key, value in message.items():
            num_tokens += _value_tokens(value)
            if key == "name":  # if there's a name, the role is omitted
                num_tokens -= 1
    num_tokens += 2  # every reply is primed with <im_start>assistant
    return num_tokens + completion_tokens


async def run_parallel_processor(
    jobs: list[tuple[Any, dict[str, Any]]],
    *,
    base_url: str,
    api_key: str,
    max_requests_per_minute: float,
    max_tokens_per_minute: float,
    time_scale: float,
    max_attempts: int = 5,
) -> tuple[list[ProcessorRecord], StatusTracker, float]:
    """Process ``jobs`` the cookbook's way; ``(records, status tracker, origin)``.

    ``origin`` is the ``time.perf_counter()`` the records' times are relative to.
    """
    request_url = base_url.rstrip("/") + "/chat/completions"
    request_header = {"Authorization": f"Bearer {api_key}"}
    queue_of_requests_to_retry: asyncio.Queue[APIRequest] = asyncio.Queue()
    status_tracker = StatusTracker()
    records: list[ProcessorRecord] = []
    next_request: APIRequest | None = None
    available_request_capacity = max_requests_per_minute
    available_token_capacity = max_tokens_per_minute
    pause = SECONDS_TO_PAUSE_AFTER_RATE_LIMIT_ERROR / time_scale
    requests = iter(jobs)
    file_not_finished = True
    task_ids = iter(range(len(jobs)))
    in_flight: set[asyncio.Task[None]] = set()
    # aiohttp's defaults: at most 100 connections (TCPConnector limit), a 300 s total timeout.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=httpx.Timeout(300.0), limits=limits) as client:
        origin = time.perf_counter()
        last_update_time = origin
        while True:
            # get next request (if one is not already waiting for capacity)
            if next_request is None:
                if not queue_of_requests_to_retry.empty():
                    next_request = queue_of_requests_to_retry.get_nowait()
                elif file_not_finished:
                    try:
                        key, request_json = next(requests)
                        next_request = APIRequest(
                            task_id=next(task_ids),
                            request_json=request_json,
                            token_consumption=num_tokens_consumed_from_request(request_json),
                            attempts_left=max_attempts,
                            key=key,
                        )
                        status_tracker.num_tasks_started += 1
                        status_tracker.num_tasks_in_progress += 1
                    except StopIteration:
                        file_not_finished = False

            # update available capacity (in emulated minutes)
            current_time = time.perf_counter()
            seconds_since_update = (current_time - last_update_time) * time_scale
            available_request_capacity = min(
                available_request_capacity + max_requests_per_minute * seconds_since_update / 60.0,
                max_requests_per_minute,
            )
            available_token_capacity = min(
                available_token_capacity + max_tokens_per_minute * seconds_since_update / 60.0,
                max_tokens_per_minute,
            )
            last_update_time = current_time

            # if enough capacity available, call API
            if next_request:
                next_request_tokens = next_request.token_consumption
                if available_request_capacity >= 1 and available_token_capacity >= next_request_tokens:
                    available_request_capacity -= 1
                    available_token_capacity -= next_request_tokens
                    next_request.attempts_left -= 1
                    task = asyncio.create_task(
                        next_request.call_api(
                            client,
                            request_url,
                            request_header,
                            queue_of_requests_to_retry,
                            records,
                            status_tracker,
                            origin,
                        )
                    )
                    in_flight.add(task)  # the original drops the reference; asyncio may then collect it
                    task.add_done_callback(in_flight.discard)
                    next_request = None

            # if all tasks are finished, break
            if status_tracker.num_tasks_in_progress == 0:
                break

            # main loop sleeps briefly so concurrent tasks can run
            await asyncio.sleep(SECONDS_TO_SLEEP_EACH_LOOP)

            # if a rate limit error was hit recently, pause to cool down
            seconds_since_rate_limit_error = time.perf_counter() - status_tracker.time_of_last_rate_limit_error
            if seconds_since_rate_limit_error < pause:
                await asyncio.sleep(pause - seconds_since_rate_limit_error)
    return records, status_tracker, origin
