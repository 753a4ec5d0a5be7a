"""Tests for the emulator's strict multipart/form-data parser, fed by httpx and by the official groq SDK."""

from __future__ import annotations

from typing import Any

import groq
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.emulator._multipart import (
    MultipartError,
    MultipartTooLarge,
    UploadedFile,
    parse_boundary,
    parse_multipart,
)

MAX = 1 << 20


class ForceMultipart(dict):  # type: ignore[type-arg]
    """An empty ``files`` mapping that is truthy, so httpx sends multipart even without files (as the groq SDK does)."""

    def __bool__(self) -> bool:
        return True


def encode(data: dict[str, Any] | None = None, files: Any = None) -> tuple[str, bytes]:
    """Content-Type and body of a form exactly as httpx sends it."""
    request = httpx.Request("POST", "http://emulator.test/upload", data=data, files=files or ForceMultipart())
    return request.headers["content-type"], request.read()


def raw(parts: list[bytes], boundary: str = "XyZ", *, closing: bytes = b"--XyZ--\r\n") -> tuple[str, bytes]:
    """A hand-built body: parts joined with the delimiter, for malformed-input tests."""
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts) + closing
    return f"multipart/form-data; boundary={boundary}", body


FIELD = b'Content-Disposition: form-data; name="model"\r\n\r\nwhisper-large-v3'


class TestWellFormed:
    def test_httpx_fields_files_and_bracket_lists(self) -> None:
        """A form built by httpx parses into its fields, its file, and a list for the ``[]`` name."""
        content_type, body = encode(
            {"model": "whisper-large-v3", "timestamp_granularities[]": ["word", "segment"], "temperature": "0.2"},
            {"file": ("speech.wav", b"RIFF\x00\r\n--not-a-boundary\x00", "audio/wav")},
        )
        form = parse_multipart(content_type, body, max_size=MAX)
        assert form.fields == {
            "model": "whisper-large-v3",
            "timestamp_granularities[]": ["word", "segment"],
            "temperature": "0.2",
        }
        assert form.files == {"file": UploadedFile("speech.wav", "audio/wav", b"RIFF\x00\r\n--not-a-boundary\x00")}

    def test_single_bracket_value_is_still_a_list(self) -> None:
        """A ``[]`` name sent once is a one-element list, so callers never special-case it."""
        form = parse_multipart(*encode({"timestamp_granularities[]": "word"}), max_size=MAX)
        assert form.fields["timestamp_granularities[]"] == ["word"] and form.values("timestamp_granularities[]") == ["word"]

    def test_value_and_values_accessors(self) -> None:
        """``value`` gives a single value or None and ``values`` always a list."""
        form = parse_multipart(*encode({"model": "m", "a[]": ["1", "2"]}), max_size=MAX)
        assert (form.value("model"), form.value("a[]"), form.value("nope")) == ("m", "2", None)
        assert (form.values("model"), form.values("nope")) == (["m"], [])

    def test_uploaded_file_unpacks_as_a_tuple(self) -> None:
        """Files are (filename, content_type, bytes) tuples."""
        form = parse_multipart(*encode(files={"file": ("a.mp3", b"ID3", "audio/mpeg")}), max_size=MAX)
        filename, content_type, data = form.files["file"]
        assert (filename, content_type, data) == ("a.mp3", "audio/mpeg", b"ID3")

    def test_filename_with_quotes_backslashes_and_unicode(self) -> None:
        """httpx's HTML5 escaping of quotes and backslashes is undone, and UTF-8 names survive."""
        name = 'my "best" \\ take – ñ.flac'
        form = parse_multipart(*encode(files={"file": (name, b"fLaC")}), max_size=MAX)
        assert form.files["file"].filename == name

    def test_rfc5987_filename_star_wins(self) -> None:
        """``filename*=UTF-8''...`` is percent-decoded and preferred over ``filename``."""
        part = (
            b"Content-Disposition: form-data; name=\"file\"; filename=\"plain.wav\"; "
            b"filename*=UTF-8''%E2%82%AC%20rates.wav\r\nContent-Type: audio/wav\r\n\r\nRIFF"
        )
        form = parse_multipart(*raw([part]), max_size=MAX)
        assert form.files["file"] == UploadedFile("€ rates.wav", "audio/wav", b"RIFF")

    def test_preamble_epilogue_padding_and_header_case(self) -> None:
        """A preamble, transport padding after the delimiter, odd header case and an epilogue are tolerated."""
        body = (
            b"preamble text\r\n--XyZ  \t\r\n"
            b"content-DISPOSITION:form-data;name=model\r\n\r\nwhisper-large-v3\r\n"
            b"--XyZ--\r\nepilogue"
        )
        form = parse_multipart("Multipart/Form-Data; charset=utf-8; boundary=\"XyZ\"", body, max_size=MAX)
        assert form.fields == {"model": "whisper-large-v3"}

    def test_empty_form(self) -> None:
        """A body with only the closing delimiter is an empty form."""
        form = parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ--\r\n", max_size=MAX)
        assert form.fields == {} and form.files == {}

    def test_empty_field_value_and_empty_file(self) -> None:
        """Empty values and empty files are kept (the audio handler decides whether they are acceptable)."""
        form = parse_multipart(*encode({"prompt": ""}, {"file": ("a.wav", b"")}), max_size=MAX)
        assert form.fields == {"prompt": ""} and form.files["file"].data == b""

    def test_groq_sdk_transcription_request(self) -> None:
        """The body the official groq SDK builds for a transcription parses into what was passed."""
        captured: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            request.read()
            captured.append(request)
            return httpx.Response(200, json={"text": "ok", "x_groq": {"id": "req_x"}})

        client = groq.Groq(
            api_key="gsk_test", base_url="http://emulator.test", max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        )
        client.audio.transcriptions.create(
            file=("clip.m4a", b"\x00\x00\x00\x18ftypM4A "), model="whisper-large-v3-turbo", language="en",
            prompt="Groq, Whisper", response_format="verbose_json", temperature=0.0,
            timestamp_granularities=["word", "segment"],
        )
        request = captured[0]
        form = parse_multipart(request.headers["content-type"], request.content, max_size=MAX)
        assert request.url.path == "/openai/v1/audio/transcriptions"
        assert form.fields == {
            "model": "whisper-large-v3-turbo", "language": "en", "prompt": "Groq, Whisper",
            "response_format": "verbose_json", "temperature": "0.0", "timestamp_granularities[]": ["word", "segment"],
        }
        assert form.files["file"].filename == "clip.m4a" and form.files["file"].data == b"\x00\x00\x00\x18ftypM4A "

    def test_groq_sdk_translation_by_url(self) -> None:
        """A translation by ``url`` from the SDK arrives as plain fields with no file."""
        captured: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            request.read()
            captured.append(request)
            return httpx.Response(200, json={"text": "ok"})

        client = groq.Groq(
            api_key="gsk_test", base_url="http://emulator.test", max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        )
        client.audio.translations.create(model="whisper-large-v3", url="https://example.com/a.ogg")
        form = parse_multipart(captured[0].headers["content-type"], captured[0].content, max_size=MAX)
        assert form.fields == {"model": "whisper-large-v3", "url": "https://example.com/a.ogg"} and form.files == {}


class TestBoundary:
    @pytest.mark.parametrize(
        ("content_type", "fragment"),
        [
            ("application/json", "must be multipart/form-data"),
            ("multipart/mixed; boundary=abc", "must be multipart/form-data"),
            ("multipart/form-data", "no boundary"),
            ("multipart/form-data; boundary=", "is invalid"),
            ("multipart/form-data; boundary=" + "a" * 71, "is invalid"),
            ("multipart/form-data; boundary=\"ends in space \"", "is invalid"),
            ("multipart/form-data; boundary=\"bad{char}\"", "is invalid"),
            ("multipart/form-data; boundary=bad{char}", "expected ';'"),
            ("multipart/form-data; boundary=\"unterminated", "unterminated quoted string"),
            ("multipart/form-data; boundary=abc junk", "expected ';'"),
            ("multipart/form-data; =abc", "malformed parameter"),
        ],
    )
    def test_bad_content_types(self, content_type: str, fragment: str) -> None:
        """A wrong media type or a missing/invalid boundary is refused with a message saying which."""
        with pytest.raises(MultipartError, match=fragment):
            parse_boundary(content_type)

    def test_longest_legal_boundary(self) -> None:
        """A 70-character boundary with every allowed punctuation mark is accepted."""
        boundary = "'()+_,-./:=? " + "b" * 57
        assert parse_boundary(f'multipart/form-data; boundary="{boundary}"') == boundary.encode()


class TestMalformed:
    def test_too_large_is_refused_before_parsing(self) -> None:
        """A body over max_size raises MultipartTooLarge carrying size and limit, even if it is garbage."""
        with pytest.raises(MultipartTooLarge) as caught:
            parse_multipart("not even multipart", b"x" * 101, max_size=100)
        assert (caught.value.size, caught.value.limit) == (101, 100)
        assert isinstance(caught.value, MultipartError)

    @pytest.mark.parametrize(
        ("parts", "closing", "fragment"),
        [
            ([FIELD], b"", "no closing boundary follows"),
            ([FIELD], b"--XyZ", "without the closing boundary"),
            ([b'Content-Type: text/plain\r\n\r\nx'], b"--XyZ--", "missing Content-Disposition"),
            ([b'Content-Disposition: attachment; name="a"\r\n\r\nx'], b"--XyZ--", "must be form-data"),
            ([b"Content-Disposition: form-data\r\n\r\nx"], b"--XyZ--", "no name parameter"),
            ([b'Content-Disposition: form-data; name=""\r\n\r\nx'], b"--XyZ--", "no name parameter"),
            ([FIELD, FIELD], b"--XyZ--", "'model' is sent more than once"),
            ([b'Content-Disposition: form-data; name="f"; filename="a"\r\n\r\nx'] * 2, b"--XyZ--", "one file per field"),
            ([FIELD, b'Content-Disposition: form-data; name="model"; filename="a"\r\n\r\nx'], b"--XyZ--", "more than once"),
            ([b'Content-Disposition: form-data; name="model"\r\n\r\n\xff\xfe'], b"--XyZ--", "not valid UTF-8 text"),
            ([b"Content-Disposition form-data\r\n\r\nx"], b"--XyZ--", "malformed header line"),
            ([b' Content-Disposition: form-data; name="a"\r\n\r\nx'], b"--XyZ--", "malformed header line"),
            ([b'Content-Disposition: form-data; name="\xff"\r\n\r\nx'], b"--XyZ--", "headers are not valid UTF-8"),
            ([b"Content-Disposition: form-data; name=\"f\"; filename*=nonsense\r\n\r\nx"], b"--XyZ--", "charset'language'value"),
            ([b"Content-Disposition: form-data; name=\"f\"; filename*=bogus-charset''x\r\n\r\nx"], b"--XyZ--", "does not decode"),
        ],
    )
    def test_malformed_parts(self, parts: list[bytes], closing: bytes, fragment: str) -> None:
        """Each malformed part raises MultipartError with a message naming the problem."""
        with pytest.raises(MultipartError, match=fragment):
            parse_multipart(*raw(parts, closing=closing), max_size=MAX)

    def test_missing_boundary_in_body(self) -> None:
        """A body that never contains its boundary is refused."""
        with pytest.raises(MultipartError, match="does not contain its boundary"):
            parse_multipart("multipart/form-data; boundary=XyZ", b"hello", max_size=MAX)

    def test_truncated_content(self) -> None:
        """A part whose content is never followed by a delimiter is reported as truncated."""
        with pytest.raises(MultipartError, match="part 1: no closing boundary"):
            parse_multipart("multipart/form-data; boundary=XyZ", b"--XyZ\r\n" + FIELD, max_size=MAX)

    def test_bare_lf_line_endings_are_refused(self) -> None:
        """LF-only line ends are not multipart; the delimiter line must end in CRLF."""
        body = b"--XyZ\n" + FIELD.replace(b"\r\n", b"\n") + b"\n--XyZ--\n"
        with pytest.raises(MultipartError, match="not followed by CRLF"):
            parse_multipart("multipart/form-data; boundary=XyZ", body, max_size=MAX)

    def test_endless_headers_are_refused(self) -> None:
        """A header block longer than the per-part limit is refused instead of being scanned to the end."""
        part = b'Content-Disposition: form-data; name="a"\r\nX-Pad: ' + b"p" * 9000 + b"\r\n\r\nx"
        with pytest.raises(MultipartError, match="headers are not ended"):
            parse_multipart(*raw([part]), max_size=MAX)

    def test_part_count_is_bounded(self) -> None:
        """More parts than max_parts are refused."""
        parts = [b'Content-Disposition: form-data; name="a[]"\r\n\r\nx'] * 5
        with pytest.raises(MultipartError, match="more than 4 parts"):
            parse_multipart(*raw(parts), max_size=MAX, max_parts=4)


_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00", exclude_categories=("Cs",)), min_size=1, max_size=12)
_VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(_NAMES.filter(lambda n: not n.endswith("[]")), _VALUES, max_size=4),
    lists=st.lists(_VALUES, min_size=1, max_size=3),
    files=st.dictionaries(_NAMES.map(lambda n: "f_" + n), st.tuples(_NAMES, st.binary(max_size=200)), max_size=3),
)
def test_httpx_round_trip(fields: dict[str, str], lists: list[str], files: dict[str, tuple[str, bytes]]) -> None:
    """Any fields, repeated ``[]`` values and binary files httpx encodes come back exactly."""
    fields = {k: v for k, v in fields.items() if k not in files}
    content_type, body = encode({**fields, "x[]": lists}, {k: (name, data, "application/octet-stream") for k, (name, data) in files.items()})
    form = parse_multipart(content_type, body, max_size=MAX)
    expected_fields = {k: v.replace("\r\n", "\n").replace("\r", "\n") for k, v in fields.items()}
    got_fields = {k: v.replace("\r\n", "\n").replace("\r", "\n") for k, v in form.fields.items() if k != "x[]"}  # type: ignore[union-attr]
    assert got_fields == expected_fields and form.values("x[]") == lists
    assert {k: (f.filename, f.data) for k, f in form.files.items()} == files


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_damaged_bodies_fail_cleanly(cut: int, flip: int, byte: int) -> None:
    """Truncated or corrupted bodies either parse or raise MultipartError, never anything else."""
    content_type, body = encode({"model": "whisper-large-v3", "g[]": ["word", "segment"]}, {"file": ("a.wav", b"RIFF" * 20)})
    damaged = bytearray(body[: cut % (len(body) + 1)])
    if damaged:
        damaged[flip % len(damaged)] = byte
    try:
        parse_multipart(content_type, bytes(damaged), max_size=MAX)
    except MultipartError:
        pass
