"""The incremental SSE decoder: WHATWG event-stream rules on bytes, independent of chunking."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors._sse import DONE, SSEDecoder, SSEEvent, SSEProtocolError, encode_comment, encode_event

BOM = b"\xef\xbb\xbf"

GROQ_STREAM = (
    b'data: {"id":"chatcmpl-814de58f","object":"chat.completion.chunk","created":1711681319,'
    b'"model":"openai/gpt-oss-20b","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
    b'"logprobs":null,"finish_reason":null}],"x_groq":{"id":"req_01ht42gbv3ev59x93kqrkbstnr"}}\n\n'
    b'data: {"id":"chatcmpl-814de58f","choices":[{"index":0,"delta":{"content":" soft"}}]}\n\n'
    b": keep-alive\n\n"
    b'data: {"id":"chatcmpl-814de58f","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    b'"x_groq":{"id":"req_01ht42gbv3ev59x93kqrkbstnr","usage":{"prompt_tokens":12,"completion_tokens":164}}}\n\n'
    b"data: [DONE]\n\n"
)


def decode_all(chunks: list[bytes], decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    """Feed every chunk, then flush, collecting the events in order."""
    decoder = decoder or SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.flush())
    return events


def reference_decode(stream: bytes) -> list[SSEEvent]:
    """A deliberately naive, whole-stream transcription of the WHATWG rules, as the test oracle."""
    if stream.startswith(BOM):
        stream = stream[3:]
    lines = re.split(rb"\r\n|\r|\n", stream)
    lines.pop()  # the text after the last line end is an unterminated line: discarded at end of stream
    events = []
    data, event_type, last_id, retry = b"", "", None, None
    for line in lines:
        if line == b"":
            if data:
                events.append(SSEEvent(event_type or "message", data[:-1], last_id, retry))
            data, event_type, retry = b"", "", None
            continue
        if line.startswith(b":"):
            continue
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data += value + b"\n"
        elif name == b"event":
            event_type = value.decode("utf-8", "replace")
        elif name == b"id" and b"\0" not in value:
            last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and re.fullmatch(rb"[0-9]+", value):
            retry = int(value)
    return events


def encode_events(events: list[SSEEvent], newline: bytes = b"\n") -> bytes:
    """Write events as a server would: optional event/id/retry fields, one data line per data line."""
    out = []
    for event in events:
        if event.event != "message":
            out.append(b"event: " + event.event.encode())
        if event.id is not None:
            out.append(b"id: " + event.id.encode())
        if event.retry is not None:
            out.append(b"retry: " + str(event.retry).encode())
        out.extend(b"data: " + line for line in event.data.split(b"\n"))
        out.append(b"")
    return b"".join(line + newline for line in out)


def rechunk(stream: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``stream`` at the given offsets (taken modulo its length, sorted)."""
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


class TestGroqStreams:
    def test_captured_groq_stream(self) -> None:
        """A real Groq stream yields one event per data line, the keep-alive comment is skipped, [DONE] is data."""
        events = decode_all([GROQ_STREAM])
        assert [e.data[:8] for e in events] == [b'{"id":"c'] * 3 + [b"[DONE]"]
        assert {e.event for e in events} == {"message"}

    def test_one_byte_at_a_time(self) -> None:
        """Feeding one byte per call gives the same events as feeding the whole body."""
        assert decode_all([GROQ_STREAM[i : i + 1] for i in range(len(GROQ_STREAM))]) == decode_all([GROQ_STREAM])

    def test_error_event(self) -> None:
        """Groq's ``event: error`` form sets the event type for that event only."""
        stream = b'event: error\ndata: {"error":{"message":"boom"}}\n\ndata: x\n\n'
        assert decode_all([stream]) == [
            SSEEvent("error", b'{"error":{"message":"boom"}}'),
            SSEEvent("message", b"x"),
        ]

    def test_events_arrive_as_soon_as_complete(self) -> None:
        """An event is returned by the feed call that completes it, not later."""
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\n") == []
        assert decoder.feed(b"\ndata: b") == [SSEEvent(data=b"a")]
        assert decoder.feed(b"\n\n") == [SSEEvent(data=b"b")]


class TestLineEnds:
    @pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
    def test_each_line_end(self, newline: bytes) -> None:
        """LF, CR and CRLF each end lines."""
        stream = b"data: a" + newline + b"data: b" + newline + newline
        assert decode_all([stream]) == [SSEEvent(data=b"a\nb")]

    def test_crlf_split_across_chunks_is_one_line_end(self) -> None:
        """A CRLF whose CR ends one chunk and LF starts the next is a single line end, not a blank line."""
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\r") == []
        assert decoder.feed(b"\ndata: b\r") == []
        assert decoder.feed(b"\n\r") == [SSEEvent(data=b"a\nb")]
        assert decoder.feed(b"\n") == []

    def test_chunk_ending_in_cr_dispatches_at_once(self) -> None:
        """A blank line ended by a chunk-final CR dispatches without waiting for the next byte."""
        assert SSEDecoder().feed(b"data: a\r\n\r") == [SSEEvent(data=b"a")]

    def test_lone_lf_after_cr_chunk_is_swallowed_once(self) -> None:
        """Only one LF after a chunk-final CR is swallowed; a second LF is a blank line."""
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\r") == []
        assert decoder.feed(b"\n") == []
        assert decoder.feed(b"\n") == [SSEEvent(data=b"a")]

    @pytest.mark.parametrize("separator", ["\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x0b", "\x0c"])
    def test_only_cr_and_lf_split_lines(self, separator: str) -> None:
        """Characters str.splitlines treats as line breaks stay inside the data."""
        payload = f'{{"content":"a{separator}b"}}'.encode()
        assert decode_all([b"data: " + payload + b"\n\n"]) == [SSEEvent(data=payload)]


class TestFields:
    def test_multi_line_data_joined_with_lf(self) -> None:
        """Several data lines in one event are joined with LF."""
        assert decode_all([b"data: a\ndata: \ndata: c\n\n"]) == [SSEEvent(data=b"a\n\nc")]

    def test_only_one_space_is_stripped(self) -> None:
        """One space after the colon is dropped, a second one is data."""
        assert decode_all([b"data:  x\ndata:y\n\n"]) == [SSEEvent(data=b" x\ny")]

    def test_field_without_colon_has_empty_value(self) -> None:
        """A bare ``data`` line adds an empty data line, so the event is dispatched with empty data."""
        assert decode_all([b"data\n\n"]) == [SSEEvent(data=b"")]

    def test_blank_line_without_data_emits_nothing(self) -> None:
        """A dispatch with an empty data buffer emits nothing and resets the event type."""
        assert decode_all([b"event: error\n\ndata: x\n\n\n\n"]) == [SSEEvent(data=b"x")]

    def test_comments_and_unknown_fields_are_ignored(self) -> None:
        """Comment lines and unknown field names do not affect the event."""
        stream = b": hello\nfoo: bar\ndata: x\nDATA: y\n:data: z\n\n"
        assert decode_all([stream]) == [SSEEvent(data=b"x")]

    def test_id_persists_across_events(self) -> None:
        """The last event id is carried by every later event until a new id replaces it."""
        stream = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n"
        events = decode_all([stream])
        assert [e.id for e in events] == ["1", "1", "2", ""]

    def test_id_with_nul_is_ignored(self) -> None:
        """An id containing NUL does not change the last event id."""
        decoder = SSEDecoder()
        assert decode_all([b"id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n"], decoder) == [
            SSEEvent(data=b"a", id="7"),
            SSEEvent(data=b"b", id="7"),
        ]
        assert decoder.last_event_id == "7"

    @pytest.mark.parametrize(("value", "retry"), [(b"3000", 3000), (b"0", 0), (b"12a", None), (b"", None), (b"-5", None)])
    def test_retry_needs_ascii_digits(self, value: bytes, retry: int | None) -> None:
        """``retry`` is taken only when its value is all ASCII digits."""
        assert decode_all([b"retry: " + value + b"\ndata: x\n\n"]) == [SSEEvent(data=b"x", retry=retry)]

    def test_retry_belongs_to_its_event(self) -> None:
        """A retry field applies to the event block it appears in, not to later ones."""
        assert [e.retry for e in decode_all([b"retry: 5\ndata: a\n\ndata: b\n\n"])] == [5, None]

    def test_empty_event_type_means_message(self) -> None:
        """An empty ``event:`` value falls back to "message"."""
        assert decode_all([b"event:\ndata: x\n\n"]) == [SSEEvent("message", b"x")]

    def test_invalid_utf8_in_event_name_is_replaced(self) -> None:
        """Event names are decoded as UTF-8 with replacement, never raising."""
        assert decode_all([b"event: \xff\ndata: x\n\n"]) == [SSEEvent("\ufffd", b"x")]


class TestStreamBoundaries:
    def test_leading_bom_is_dropped(self) -> None:
        """A UTF-8 BOM at the start of the stream is not part of the first field name."""
        assert decode_all([BOM[:1], BOM[1:] + b"data: x\n\n"]) == [SSEEvent(data=b"x")]

    def test_bom_later_in_the_stream_is_kept(self) -> None:
        """Only the first BOM is special: later it makes the line an unknown field."""
        assert decode_all([b"data: a\n\n" + BOM + b"data: b\n\n"]) == [SSEEvent(data=b"a")]

    def test_incomplete_event_is_discarded_at_end(self) -> None:
        """An event without its blank line, or an unterminated line, is dropped at end of stream."""
        decoder = SSEDecoder()
        assert decoder.feed(b"data: a\n\ndata: b\ndata: c") == [SSEEvent(data=b"a")]
        assert decoder.flush() == []

    def test_flush_starts_a_new_stream(self) -> None:
        """After flush the decoder parses a fresh stream (BOM included) and keeps the last id."""
        decoder = SSEDecoder()
        decoder.feed(b"id: 4\ndata: a\n\nevent: error\ndata: half")
        decoder.flush()
        assert decoder.feed(BOM + b"data: b\n\n") == [SSEEvent(data=b"b", id="4")]

    def test_empty_feeds_are_harmless(self) -> None:
        """Empty chunks, even right after a chunk-final CR, change nothing."""
        assert decode_all([b"data: a\r", b"", b"\n", b"", b"\n"]) == [SSEEvent(data=b"a")]

    def test_repr_shows_buffered_state(self) -> None:
        """The repr tells how much is buffered and the last id."""
        decoder = SSEDecoder()
        decoder.feed(b"id: 9\ndata: a\ndata: b")
        assert repr(decoder) == "<SSEDecoder 7 bytes of partial line, 1 pending data lines, last id '9'>"


class TestLimits:
    def test_partial_line_over_limit_raises(self) -> None:
        """A line that keeps growing past max_line_bytes raises before it is buffered."""
        decoder = SSEDecoder(max_line_bytes=10)
        decoder.feed(b"data: 1234")
        with pytest.raises(SSEProtocolError, match="max_line_bytes=10"):
            decoder.feed(b"5")

    def test_unterminated_chunk_over_limit_raises(self) -> None:
        """A single chunk with no line end that is longer than the limit raises at once."""
        with pytest.raises(SSEProtocolError, match="line of 11 bytes"):
            SSEDecoder(max_line_bytes=10).feed(b"data: 12345")

    def test_complete_line_over_limit_raises(self) -> None:
        """A complete line over the limit raises even when it arrives in one chunk."""
        with pytest.raises(SSEProtocolError, match="line of 11 bytes"):
            SSEDecoder(max_line_bytes=10).feed(b"data: 12345\n\n")

    def test_line_at_limit_is_fine(self) -> None:
        """A line exactly max_line_bytes long is accepted, whatever the chunking."""
        assert decode_all([b"data: 12", b"34\n\n"], SSEDecoder(max_line_bytes=10)) == [SSEEvent(data=b"1234")]

    def test_event_data_over_limit_raises(self) -> None:
        """Many data lines without a blank line cannot grow the event past max_event_bytes."""
        decoder = SSEDecoder(max_event_bytes=20)
        decoder.feed(b"data: 0123456789\n")
        with pytest.raises(SSEProtocolError, match="max_event_bytes=20"):
            decoder.feed(b"data: 0123456789\n")

    def test_event_limit_resets_after_dispatch(self) -> None:
        """The event size budget is per event: dispatched events do not count towards the next."""
        decoder = SSEDecoder(max_event_bytes=20)
        events = [e for _ in range(5) for e in decoder.feed(b"data: 0123456789\n\n")]
        assert len(events) == 5

    def test_is_a_value_error(self) -> None:
        """SSEProtocolError is a ValueError, so generic malformed-input handling catches it."""
        assert issubclass(SSEProtocolError, ValueError)

    def test_limits_must_be_positive(self) -> None:
        """A zero or negative limit is rejected with the value named."""
        with pytest.raises(ValueError, match="max_line_bytes=0"):
            SSEDecoder(max_line_bytes=0)


# -- properties -------------------------------------------------------------------------------------

_text_bytes = st.text(
    alphabet=st.sampled_from(list("ab :{}\"\\\x00\x1c\u2028é")) | st.characters(codec="utf-8"), max_size=12
).map(lambda text: text.replace("\r", "").replace("\n", "").encode())

_line = st.one_of(
    _text_bytes.map(lambda v: b"data: " + v),
    _text_bytes.map(lambda v: b"data:" + v),
    st.just(b"data"),
    st.just(b""),
    st.just(b""),
    _text_bytes.map(lambda v: b": " + v),
    st.sampled_from([b"event: error", b"event:", b"event: \xff", b"id: 1", b"id: x\x00y", b"id", b"retry: 10", b"retry: x"]),
    _text_bytes.map(lambda v: b"unknown: " + v),
    st.just(BOM + b"data: bom"),
)

_stream = st.tuples(
    st.booleans(),
    st.lists(st.tuples(_line, st.sampled_from([b"\n", b"\r", b"\r\n"])), max_size=25),
    _text_bytes,
).map(lambda parts: (BOM if parts[0] else b"") + b"".join(line + end for line, end in parts[1]) + parts[2])


@settings(max_examples=300, deadline=None)
@given(stream=_stream, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_chunking_matches_the_reference(stream: bytes, cuts: list[int]) -> None:
    """Any re-chunking of any stream, including splits inside CRLF, yields the reference parser's events."""
    assert decode_all(rechunk(stream, cuts)) == reference_decode(stream)


@settings(max_examples=200, deadline=None)
@given(stream=st.binary(max_size=200), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_arbitrary_bytes_never_crash(stream: bytes, cuts: list[int]) -> None:
    """Random bytes decode without errors, to the same events as the reference, in any chunking."""
    assert decode_all(rechunk(stream, cuts)) == reference_decode(stream)


_event = st.builds(
    SSEEvent,
    event=st.sampled_from(["message", "error", "ping", "é"]),
    data=st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"")),
    id=st.none() | st.text(max_size=5).map(lambda t: t.replace("\r", "").replace("\n", "").replace("\0", "")),
    retry=st.none() | st.integers(min_value=0, max_value=10**6),
)


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(_event, max_size=10),
    newline=st.sampled_from([b"\n", b"\r", b"\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=2_000), max_size=10),
)
def test_encoded_events_round_trip(events: list[SSEEvent], newline: bytes, cuts: list[int]) -> None:
    """Events written by a server-side encoder come back identical (ids persisting), in any chunking."""
    expected, last_id = [], None
    for event in events:
        last_id = event.id if event.id is not None else last_id
        expected.append(SSEEvent(event.event, event.data, last_id, event.retry))
    assert decode_all(rechunk(encode_events(events, newline), cuts)) == expected


# -- the encoder ------------------------------------------------------------------------------------


class TestEncoder:
    def test_groq_chunk_bytes(self) -> None:
        """The common case is exactly Groq's framing: ``data: `` + JSON + blank line, and the [DONE] event."""
        assert encode_event(b'{"id":"x"}') == b'data: {"id":"x"}\n\n'
        assert DONE == b"data: [DONE]\n\n" == encode_event(b"[DONE]")

    def test_captured_stream_is_reproduced(self) -> None:
        """Encoding the captured Groq stream's events (and its keep-alive) gives back its exact bytes."""
        events = decode_all([GROQ_STREAM])
        blocks = [encode_event(e.data) for e in events]
        blocks.insert(2, encode_comment("keep-alive"))
        assert b"".join(blocks) == GROQ_STREAM

    def test_named_event(self) -> None:
        """An event name comes first, on its own line."""
        assert encode_event(b'{"error":{}}', event="error") == b'event: error\ndata: {"error":{}}\n\n'

    def test_multi_line_data_becomes_several_data_lines(self) -> None:
        """Each LF in the data starts a new ``data:`` line (WHATWG), including empty first and last lines."""
        assert encode_event(b"a\n\nb") == b"data: a\ndata: \ndata: b\n\n"
        assert encode_event(b"\n") == b"data: \ndata: \n\n"
        assert encode_event(b"") == b"data: \n\n"

    def test_comments(self) -> None:
        """A comment is a ``: `` line per line of text, then a blank line; the parser skips it."""
        assert encode_comment("keep-alive") == b": keep-alive\n\n"
        assert encode_comment("a\nb") == b": a\n: b\n\n"
        assert decode_all([encode_comment("x") + encode_event(b"1") + encode_comment("") + encode_event(b"2")]) == [
            SSEEvent(data=b"1"),
            SSEEvent(data=b"2"),
        ]

    @pytest.mark.parametrize("name", ["", "a\nb", "error\n", "\rx", "a\r\nb"])
    def test_bad_event_names_are_refused(self, name: str) -> None:
        """An empty name (it would read as "message") or one with a line end raises, naming it."""
        with pytest.raises(ValueError, match=re.escape(repr(name))):
            encode_event(b"{}", event=name)

    def test_unencodable_event_name_is_refused(self) -> None:
        """A name that is not valid UTF-8 text (a lone surrogate) raises ValueError naming it."""
        with pytest.raises(ValueError, match=re.escape(repr("bad\ud800"))):
            encode_event(b"{}", event="bad\ud800")

    @pytest.mark.parametrize("data", [b"a\rb", b"\r", b"line\r\nline"])
    def test_cr_in_data_is_refused(self, data: bytes) -> None:
        """A CR would come back as LF, so data holding one raises, showing where."""
        with pytest.raises(ValueError, match="cannot hold a CR") as raised:
            encode_event(data)
        assert repr(data) in str(raised.value)

    def test_cr_in_comment_is_refused(self) -> None:
        """A comment holding a CR raises, naming it."""
        with pytest.raises(ValueError, match=re.escape(repr("a\rb"))):
            encode_comment("a\rb")


_encodable_name = st.none() | st.text(min_size=1, max_size=8).filter(lambda t: "\r" not in t and "\n" not in t)
_encodable_data = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"")) | st.sampled_from(
    [b"", b"\n", b"[DONE]", b'{"choices":[{"delta":{"content":"a\\nb"}}]}', b"\xef\xbb\xbfdata: x", b": not a comment"]
)
_block = st.one_of(
    st.tuples(st.just("event"), _encodable_data, _encodable_name),
    st.tuples(st.just("comment"), st.text(max_size=10).map(lambda t: t.replace("\r", "")), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(blocks=st.lists(_block, max_size=12), cuts=st.lists(st.integers(min_value=0, max_value=2_000), max_size=12))
def test_encoder_round_trips_in_any_chunking(blocks: list[tuple[str, object, str | None]], cuts: list[int]) -> None:
    """parse(encode(events)) == events, whatever the re-chunking; comments anywhere between them vanish."""
    wire, expected = [], []
    for kind, payload, name in blocks:
        if kind == "comment":
            wire.append(encode_comment(payload))  # type: ignore[arg-type]
        else:
            wire.append(encode_event(payload, event=name))  # type: ignore[arg-type]
            expected.append(SSEEvent(name or "message", payload))  # type: ignore[arg-type]
    stream = b"".join(wire)
    assert decode_all(rechunk(stream, cuts)) == expected == reference_decode(stream)


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(max_size=5),
    end=st.sampled_from(["\n", "\r", "\r\n"]),
    suffix=st.text(max_size=5),
)
def test_event_names_with_line_ends_are_refused(prefix: str, end: str, suffix: str) -> None:
    """Any event name holding CR or LF raises ValueError naming it, instead of writing a broken block."""
    name = prefix + end + suffix
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        encode_event(b"x", event=name)


def test_no_hand_written_sse_outside_the_encoder() -> None:
    """orchestrator/ and bench/ hold no bytes literal that starts an SSE field: they write through the encoder."""
    root = Path(__file__).resolve().parents[2]
    found = []
    for package in ("orchestrator", "bench"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
                    if node.value.lstrip(b"\r\n").startswith((b"data:", b"event:", b"id:", b"retry:")):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value[:30]!r}")
    assert not found, "write SSE with actors._sse.encode_event / DONE instead:\n" + "\n".join(found)
