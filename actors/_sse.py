"""Server-sent events: an incremental, sans-IO decoder from bytes to :class:`SSEEvent`, and its encoder.

Theory of operation
-------------------
Groq streams chat completions as ``text/event-stream``: ``data: {json}`` lines, each event ended
by a blank line, the stream ended by ``data: [DONE]``; errors can arrive as ``event: error`` and
proxies may add ``: keep-alive`` comments. The body arrives in arbitrary chunks, split anywhere,
including inside a line or between the CR and LF of a CRLF.

Rule 1: this module does no IO. :meth:`SSEDecoder.feed` takes whatever bytes arrived and returns
the events they complete; :meth:`SSEDecoder.flush` ends the stream. The stream actor owns the
socket; this class owns the parsing rules.

Rule 2: the rules are WHATWG's EventSource parsing rules (HTML Living Standard, "Parsing an event
stream"), on bytes:

- lines end at CR, LF or CRLF, and nothing else (``str.splitlines`` would also split on
  ``\\x1c``, ``\\x85`` or ``\\u2028``, which can occur inside JSON strings);
- a UTF-8 byte order mark at the very start of the stream is dropped;
- a line starting with ``:`` is a comment; otherwise the field name runs to the first ``:`` and
  one space after the colon is stripped from the value (no colon: the whole line is the name and
  the value is empty);
- ``data`` appends the value plus LF to the data buffer, ``event`` sets the event type, ``id``
  sets the last event id (ignored if it contains NUL; it persists across events), ``retry``
  sets the reconnection time if the value is all ASCII digits; unknown fields are ignored;
- a blank line dispatches: if the data buffer is empty nothing is emitted, otherwise one event
  with the buffer minus its final LF; the event type and data buffers are then reset;
- at the end of the stream an incomplete event (no blank line after it) is discarded.

``[DONE]`` is ordinary data here; the stream layer gives it meaning.

CR handling: a CR that ends a chunk ends its line at once (so an event completed by it is
dispatched without waiting for more bytes), and the decoder remembers to swallow an LF that
starts the next chunk, so a CRLF split across chunks is still one line end. Any re-chunking of a
byte stream therefore yields exactly the same events.

Speed: this is the streaming hot path. :meth:`SSEDecoder.feed` works on whole chunks with
``bytes.split``/``bytes.replace`` (C loops), and the per-line Python work is one slice
comparison for the common ``data: `` line; there is no per-byte loop.

Memory: a partial line longer than ``max_line_bytes``, or an undispatched event whose data
exceeds ``max_event_bytes``, raises :class:`SSEProtocolError` instead of buffering without bound.

Writing: :func:`encode_event`, :func:`encode_comment` and :data:`DONE` are the only place event-stream
bytes are written (the emulator's streams and fault shaping, the benchmarks' canned bodies), so the
writer and this parser share one set of rules. Each returns one complete block ending with a blank
line, and ``SSEDecoder`` turns the concatenation back into the same events under any chunking. An
LF in the data becomes one ``data:`` line per line; what the parser could not give back unchanged
(a CR anywhere, an event name that is empty or has a line end) raises :class:`ValueError` naming
it. The common case (data without line ends, no event name) is two C scans and one concatenation:
no JSON is decoded or re-encoded.
"""

from __future__ import annotations

from typing import Final

import msgspec

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DONE",
    "SSEDecoder",
    "SSEEvent",
    "SSEProtocolError",
    "encode_comment",
    "encode_event",
]

DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
"""16 MiB: far above any real chunk line (a few hundred bytes) or tool-call argument event."""

_BOM: Final = b"\xef\xbb\xbf"


class SSEProtocolError(ValueError):
    """The byte stream cannot be an event stream: a line or an event is larger than allowed.

    A subclass of :class:`ValueError` so callers that treat malformed input generically still
    catch it; the stream layer maps it to a stream error carrying the partial content.
    """


class SSEEvent(msgspec.Struct, frozen=True, gc=False):
    """One dispatched server-sent event.

    Attributes:
        event: the event type (``"message"`` unless an ``event:`` field said otherwise; Groq
            uses ``"error"`` for in-stream errors).
        data: the ``data:`` lines joined with ``\\n``, as bytes, ready for ``msgspec`` to decode
            without a detour through ``str``.
        id: the last event id seen on the stream so far (it persists across events), or None.
        retry: the reconnection time in milliseconds if this event's block had a valid
            ``retry:`` field, else None.
    """

    event: str = "message"
    data: bytes = b""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Turns the chunks of an event-stream body into :class:`SSEEvent` values, incrementally.

    Think of it as the ``decode``/``flush`` pair of httpx's incremental decoders, for SSE: feed
    every chunk as it arrives, act on the events each call returns, call :meth:`flush` when the
    body ends. One decoder per stream; it is not thread-safe and has no IO.

    Args:
        max_line_bytes: the longest line (without its line end) accepted.
        max_event_bytes: the most data one event may accumulate before its blank line.
    """

    __slots__ = (
        "_at_start",
        "_counted",
        "_data",
        "_data_size",
        "_event",
        "_last_id",
        "_max_event_bytes",
        "_max_line_bytes",
        "_partial",
        "_partial_size",
        "_retry",
        "_skip_lf",
    )

    def __init__(
        self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, max_event_bytes: int = DEFAULT_MAX_LINE_BYTES
    ) -> None:
        if max_line_bytes < 1 or max_event_bytes < 1:
            raise ValueError(
                f"max_line_bytes={max_line_bytes!r} and max_event_bytes={max_event_bytes!r} must be positive byte counts"
            )
        self._max_line_bytes = max_line_bytes
        self._max_event_bytes = max_event_bytes
        self._last_id: str | None = None
        self._reset()

    def _reset(self) -> None:
        """Forget everything but the last event id (which outlives a stream, for reconnection)."""
        self._partial: list[bytes] = []  # pieces of an unterminated line; never contain CR or LF
        self._partial_size = 0
        self._skip_lf = False  # the previous chunk ended with CR: an LF now belongs to it
        self._at_start = True  # no complete line yet: a BOM may still need stripping
        self._data: list[bytes] = []  # data lines of the event being built
        self._counted = 0  # how many of _data are included in _data_size
        self._data_size = 0
        self._event = ""
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str | None:
        """The last ``id:`` seen on this stream (what a reconnect would send as ``Last-Event-ID``)."""
        return self._last_id

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Parse the next chunk of the body and return the events it completes, in order.

        Args:
            data: the next bytes of the body, split anywhere.

        Returns:
            The events dispatched by blank lines in ``data`` (often empty, often one).

        Raises:
            SSEProtocolError: a line is longer than ``max_line_bytes``, or an event's data is
                larger than ``max_event_bytes``. The decoder must not be used afterwards.
        """
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == 10:  # the LF of a CRLF whose CR ended the previous chunk
                data = data[1:]
                if not data:
                    return []
        pieces = self._partial
        if pieces:
            if b"\n" not in data and b"\r" not in data:
                # Still inside one long line: keep the pieces, join once when the line ends.
                self._partial_size += len(data)
                if self._partial_size > self._max_line_bytes:
                    raise self._line_too_long(self._partial_size)
                pieces.append(data)
                return []
            pieces.append(data)
            buffer = b"".join(pieces)
        else:
            buffer = data
        if b"\r" in buffer:
            self._skip_lf = buffer[-1] == 13
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        partial = lines.pop()
        if len(partial) > self._max_line_bytes:
            raise self._line_too_long(len(partial))
        self._partial = [partial] if partial else []
        self._partial_size = len(partial)
        if not lines:
            return []
        if len(buffer) > self._max_line_bytes:
            longest = max(map(len, lines))
            if longest > self._max_line_bytes:
                raise self._line_too_long(longest)
        if self._at_start:
            self._at_start = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][3:]
        return self._process(lines)

    def flush(self) -> list[SSEEvent]:
        """End the stream: discard an unterminated line or event, and get ready for a new stream.

        Per WHATWG, an event not followed by a blank line before the end of the stream is never
        dispatched, and a CR ending the last chunk has already ended its line in :meth:`feed`;
        so this returns no events. It returns a list anyway, to keep the ``feed``/``flush``
        shape of incremental decoders. The last event id is kept.
        """
        self._reset()
        return []

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        append = data.append
        event_type = self._event
        last_id = self._last_id
        retry = self._retry
        counted = self._counted
        for line in lines:
            if not line:  # blank line: dispatch
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(SSEEvent(event_type or "message", payload, last_id, retry))
                    data.clear()
                    counted = 0
                event_type = ""
                retry = None
            elif line[:6] == b"data: ":  # the hot path: Groq sends nothing else
                append(line[6:])
            elif line[0] == 58:  # ":" comment, e.g. ": keep-alive"
                continue
            else:
                colon = line.find(b":")
                if colon < 0:
                    name, value = line, b""
                else:
                    name, value = line[:colon], line[colon + 1 :]
                    if value[:1] == b" ":
                        value = value[1:]
                if name == b"data":
                    append(value)
                elif name == b"event":
                    event_type = value.decode("utf-8", "replace")
                elif name == b"id":
                    if b"\0" not in value:
                        last_id = value.decode("utf-8", "replace")
                elif name == b"retry":
                    if value.isdigit():  # bytes.isdigit: ASCII digits only, and not empty
                        retry = int(value)
        self._event = event_type
        self._last_id = last_id
        self._retry = retry
        if data:
            # Count only the lines added since the last check, so a long event costs O(n) in total.
            size = (self._data_size if counted else 0) + sum(map(len, data[counted:])) + len(data) - counted
            if size > self._max_event_bytes:
                raise SSEProtocolError(
                    f"an SSE event's data grew to {size} bytes without a blank line, over "
                    f"max_event_bytes={self._max_event_bytes}; the body is not a sane event stream "
                    "(or raise SSEDecoder(max_event_bytes=...))"
                )
            self._data_size = size
            self._counted = len(data)
        else:
            self._data_size = 0
            self._counted = 0
        return events

    def _line_too_long(self, length: int) -> SSEProtocolError:
        return SSEProtocolError(
            f"an SSE line of {length} bytes exceeds max_line_bytes={self._max_line_bytes}; the body is "
            "not a sane event stream (or raise SSEDecoder(max_line_bytes=...))"
        )

    def __repr__(self) -> str:
        return (
            f"<SSEDecoder {self._partial_size} bytes of partial line, "
            f"{len(self._data)} pending data lines, last id {self._last_id!r}>"
        )


# -- encoding -------------------------------------------------------------------------------------

DONE: Final = b"data: [DONE]\n\n"
"""The event that ends a Groq stream: ``data: [DONE]`` and its blank line (``encode_event(b"[DONE]")``)."""

_DATA: Final = b"data: "
_NEXT_DATA: Final = b"\ndata: "
_END: Final = b"\n\n"
_EXCERPT: Final = 40  # bytes of context either side of a refused CR, in the error message


def encode_event(data: bytes, *, event: str | None = None) -> bytes:
    """One event as wire bytes: an ``event:`` line if named, a ``data:`` line per line of data, a blank line.

    ``SSEDecoder`` reads the result back as ``SSEEvent(event or "message", data)``. The common case
    (no LF in ``data``, no ``event``) costs two C scans of ``data`` and one concatenation, so the
    caller should pass the JSON it already encoded, not re-encode it.

    Args:
        data: the event's data, e.g. one ``msgspec``-encoded JSON document (which never holds a raw
            line end). Each LF starts a new ``data:`` line, which the parser joins back with LF.
        event: the event type, e.g. ``"error"``; None leaves the field out, which means ``"message"``.

    Raises:
        ValueError: ``data`` holds a CR (a parser would read it as a line end and give back an LF),
            or ``event`` is empty, holds a CR or LF, or cannot be written as UTF-8; the message
            names the value.
    """
    if 10 in data or 13 in data:  # LF, CR: an int needle is a memchr, several times faster than b"\n"
        cr = data.find(b"\r")
        if cr >= 0:
            excerpt = data[max(0, cr - _EXCERPT) : cr + _EXCERPT]
            raise ValueError(
                f"SSE data cannot hold a CR (byte {cr} of {len(data)}, in {excerpt!r}): a parser reads CR "
                "as a line end and would give back LF; replace it (or escape it, as JSON does) first"
            )
        data = data.replace(b"\n", _NEXT_DATA)
    if event is None:
        return _DATA + data + _END
    if not event or "\n" in event or "\r" in event:
        raise ValueError(
            f"SSE event name {event!r} cannot be encoded: a name must be non-empty (empty reads as "
            "'message') and hold no CR or LF (they end the event: line)"
        )
    return b"event: " + _utf8(event, "event name") + b"\n" + _DATA + data + _END


def encode_comment(text: str) -> bytes:
    """A comment block, e.g. ``encode_comment("keep-alive")`` is ``b": keep-alive\\n\\n"``; parsers skip it.

    Each LF in ``text`` starts another comment line. The trailing blank line dispatches nothing (the
    blocks before it are complete), so the result can go between any two encoded events.

    Raises:
        ValueError: ``text`` holds a CR or cannot be written as UTF-8; the message names it.
    """
    if "\r" in text:
        raise ValueError(f"SSE comment {text!r} cannot hold a CR; split it into lines with LF instead")
    return b": " + _utf8(text, "comment").replace(b"\n", b"\n: ") + _END


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError as error:
        raise ValueError(f"SSE {what} {text!r} is not valid UTF-8 text: {error.reason}") from None
