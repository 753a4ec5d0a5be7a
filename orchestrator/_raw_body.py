"""A response body read as it arrives: what ``files.content`` and ``audio.speech.stream`` hand back.

Both send a raw-stream job (`actors._job.Job` with ``raw_stream=True``): the request is scheduled,
budgeted and retried like any call until its response headers arrive, and the open response is then the
caller's to read, chunk by chunk, inside an ``async with``. Nothing is retried once bytes were handed
over, so a connection that breaks midway (or a body shorter than its ``content-length``) raises
``StreamError`` and a read with no data in time raises ``TimeoutError``; the caller asks again.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import trio

from actors._job import Job

from ._errors import StreamError, TimeoutError
from ._runner import JobRunner

__all__ = ["RawBody"]


async def _run_raw(client: JobRunner, job: Job) -> httpx.Response:
    """Run a raw-stream job and return its open response, closing it if we are cancelled on the way."""
    try:
        response: httpx.Response = await client.run_job(job)
    except BaseException:
        outcome = job.outcome
        if outcome is not None and isinstance(outcome.value, httpx.Response):
            with trio.CancelScope(shield=True):
                await outcome.value.aclose()
        raise
    return response


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class RawBody:
    """The open response of one raw-stream job; subclasses say what it is and how to ask for it again.

    Subclasses set ``_subject`` (how messages name the body: ``file 'file_01...'``), ``_usage`` (the
    ``async with`` line a reader must be inside) and implement `_job`.
    """

    _subject: str
    _usage: str

    def __init__(self, client: JobRunner, *, timeout: float | None) -> None:
        self._client = client
        self._timeout = timeout
        self._response: httpx.Response | None = None

    def _job(self) -> Job:
        """The raw-stream job that fetches the body (called once, on entering)."""
        raise NotImplementedError

    async def __aenter__(self) -> Any:
        if self._response is not None:
            raise RuntimeError(f"this {type(self).__name__} was already opened; ask for a new one to read again")
        self._response = await _run_raw(self._client, self._job())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the response (idempotent; ``async with`` does it for you)."""
        if self._response is not None:
            with trio.CancelScope(shield=True):
                await self._response.aclose()

    def _open(self) -> httpx.Response:
        if self._response is None:
            raise RuntimeError(f"read a {type(self).__name__} inside `{self._usage}`")
        return self._response

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (``content-type``, ``content-length``, ``x-request-id``, ``x-ratelimit-*``)."""
        return self._open().headers

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` to quote to Groq support."""
        return self._open().headers.get("x-request-id")

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive (``chunk_size`` bytes each if given, else as received)."""
        response = self._open()
        try:
            async for chunk in response.aiter_bytes(chunk_size):
                yield chunk
        except httpx.TimeoutException as error:
            raise TimeoutError(
                f"{self._subject}: no data in time after {response.num_bytes_downloaded} bytes ({error!r})",
                timeout=self._timeout,
                operation="read",
                request_id=response.headers.get("x-request-id"),
            ) from error
        except httpx.RequestError as error:
            raise self._broken(response, _describe(error)) from error
        expected = response.headers.get("content-length", "")
        if expected.isdigit() and "content-encoding" not in response.headers and response.num_bytes_downloaded < int(expected):
            raise self._broken(response, f"the body ended at {response.num_bytes_downloaded} of {expected} bytes")

    async def save(self, path: str | os.PathLike[str], *, suffix: str) -> int:
        """Write the whole body to ``path`` and return the bytes written.

        The chunks go to ``path`` + ``suffix``, are flushed to disk, and only then renamed to ``path``: if
        the transfer breaks (or the process dies) no truncated file appears under the final name, and the
        partial file is removed when the failure is seen. Plain writes, as the batch runner's results file
        is written: each chunk is one network read, so a write into the page cache costs microseconds.
        """
        target = Path(os.fspath(path))
        partial = Path(os.fspath(path) + suffix)
        written = 0
        try:
            with open(partial, "wb") as out:
                async for chunk in self.aiter_bytes():
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)  # atomic: the final name only ever holds a complete file
        return written

    def _broken(self, response: httpx.Response, why: str) -> StreamError:
        return StreamError(
            f"{self._subject} broke off after {response.num_bytes_downloaded} bytes ({why}); ask for it again",
            request_id=response.headers.get("x-request-id"),
        )

    def __repr__(self) -> str:
        state = "open" if self._response is not None and not self._response.is_closed else "not open"
        return f"<{type(self).__name__} {self._subject} {state}>"
