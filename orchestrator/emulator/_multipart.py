"""A small, strict, bounded ``multipart/form-data`` parser for the emulator's audio endpoints.

Why not a library: the emulator must answer malformed uploads with Groq-style 400s (never a 500), must
refuse oversized bodies before doing any work, and needs only what RFC 7578 clients (httpx, the official
``groq`` SDK, curl, browsers) actually send.  This parser is one pass of ``bytes.find`` over a body that
the server has already read (and capped), so it is fast and its failure modes are few and explicit.

Theory of operation
-------------------
The ``boundary`` parameter of the Content-Type gives the delimiter ``--boundary``.  The body is an optional
preamble, then parts, each introduced by a delimiter line, and finally ``--boundary--`` (anything after it,
the epilogue, is ignored).  Each part is a header block (CRLF lines, ended by an empty line) and content that
runs up to the CRLF before the next delimiter.  A part's ``Content-Disposition: form-data; name="..."``
names it; a ``filename`` parameter makes it a file (``UploadedFile``), otherwise it is a text field decoded
as UTF-8.

Rules, each a :class:`MultipartError` naming what is wrong and where:

* the Content-Type must be ``multipart/form-data`` with a valid ``boundary`` (1-70 characters, RFC 2046);
* line ends are CRLF; every part needs a ``Content-Disposition`` of type ``form-data`` with a ``name``;
* the body must end with the closing delimiter;
* at most ``max_parts`` parts and ``_MAX_HEADER_BYTES`` of headers per part;
* a field name may repeat only if it ends in ``[]`` (``timestamp_granularities[]``), a file name never.

Bodies longer than ``max_size`` raise :class:`MultipartTooLarge` (the handler answers 413) before parsing.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple
from urllib.parse import unquote

__all__ = [
    "MultipartError",
    "MultipartForm",
    "MultipartTooLarge",
    "UploadedFile",
    "parse_boundary",
    "parse_multipart",
]

_MAX_HEADER_BYTES = 8 * 1024
_DEFAULT_MAX_PARTS = 64
# RFC 2046 bchars: digits, letters and '()+_,-./:=? and space (space not last).
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What httpx and browsers percent-encode in quoted names (HTML5 form encoding): '"' and C0 controls but ESC.
_HTML5_ESCAPE = re.compile(r"%(22|0[0-9A-F]|1[0-9ACDEF])")
_PARAM = re.compile(r"\s*([^=;\s]+)\s*=\s*")


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``; the message says what and where.

    It is a ``ValueError`` so generic request-validation code treats it as bad input (a 400), not a crash.
    """


class MultipartTooLarge(MultipartError):
    """The body is larger than the parser was allowed to read (the handler answers 413).

    Attributes:
        size: the body's length in bytes.
        limit: the largest body accepted.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"request body is {size} bytes, over the {limit}-byte limit; send a smaller file or use `url`")


class UploadedFile(NamedTuple):
    """One uploaded file: ``(filename, content_type, data)``, unpackable as a plain tuple."""

    filename: str
    content_type: str | None
    data: bytes


class MultipartForm(NamedTuple):
    """The parsed form.

    Attributes:
        fields: text fields by name; a name ending in ``[]`` maps to a list of its values (in order),
            any other name to its single value.
        files: uploaded files by field name.
    """

    fields: dict[str, str | list[str]]
    files: dict[str, UploadedFile]

    def value(self, name: str) -> str | None:
        """The single text value of ``name``, or None when absent (a list field yields its last value)."""
        found = self.fields.get(name)
        if isinstance(found, list):
            return found[-1] if found else None
        return found

    def values(self, name: str) -> list[str]:
        """All text values of ``name`` (empty when absent), whether or not the name ends in ``[]``."""
        found = self.fields.get(name)
        if found is None:
            return []
        return list(found) if isinstance(found, list) else [found]


def parse_boundary(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type header, as bytes.

    Raises:
        MultipartError: another media type, or a missing or invalid boundary.
    """
    media_type, params = _split_header_value(content_type, "Content-Type")
    if media_type != "multipart/form-data":
        raise MultipartError(
            f"Content-Type must be multipart/form-data for audio uploads, got {content_type[:80]!r}; "
            "send the file as a multipart form"
        )
    boundary = params.get("boundary")
    if boundary is None:
        raise MultipartError("Content-Type multipart/form-data has no boundary parameter; let the HTTP client set it")
    if not _BOUNDARY.fullmatch(boundary):
        raise MultipartError(
            f"multipart boundary {boundary[:80]!r} is invalid: it must be 1-70 letters, digits or '()+_,-./:=? "
            "and not end in a space"
        )
    return boundary.encode("ascii")


def parse_multipart(
    content_type: str, body: bytes, *, max_size: int, max_parts: int = _DEFAULT_MAX_PARTS
) -> MultipartForm:
    """Parse a whole ``multipart/form-data`` body.

    Args:
        content_type: the request's Content-Type header (carries the boundary).
        body: the complete request body.
        max_size: largest body accepted; checked first, before any parsing.
        max_parts: most parts accepted (bounds the work a hostile body can cause).

    Returns:
        The fields and files.

    Raises:
        MultipartTooLarge: ``len(body) > max_size``.
        MultipartError: anything malformed (see the module docstring for the rules).
    """
    if len(body) > max_size:
        raise MultipartTooLarge(len(body), max_size)
    delimiter = b"--" + parse_boundary(content_type)
    fields: dict[str, str | list[str]] = {}
    files: dict[str, UploadedFile] = {}
    pos = _after_first_delimiter(body, delimiter)
    count = 0
    while True:
        if body.startswith(b"--", pos):
            return MultipartForm(fields, files)
        count += 1
        if count > max_parts:
            raise MultipartError(f"multipart body has more than {max_parts} parts; send only the documented fields")
        pos = _skip_transport_padding(body, pos, count)
        headers_end = body.find(b"\r\n\r\n", pos - 2, pos + _MAX_HEADER_BYTES)
        if headers_end < 0:
            raise MultipartError(
                f"part {count}: headers are not ended by an empty CRLF line within {_MAX_HEADER_BYTES} bytes"
            )
        headers = _parse_headers(body[pos:headers_end], count)
        content_start = headers_end + 4
        content_end = body.find(b"\r\n" + delimiter, content_start)
        if content_end < 0:
            raise MultipartError(f"part {count}: no closing boundary follows its content; the body is truncated")
        _store(headers, body[content_start:content_end], count, fields, files)
        pos = content_end + 2 + len(delimiter)


def _after_first_delimiter(body: bytes, delimiter: bytes) -> int:
    """Offset just after the first delimiter (a preamble before it is allowed and ignored)."""
    if body.startswith(delimiter):
        return len(delimiter)
    found = body.find(b"\r\n" + delimiter)
    if found < 0:
        raise MultipartError("multipart body does not contain its boundary; the body and Content-Type disagree")
    return found + 2 + len(delimiter)


def _skip_transport_padding(body: bytes, pos: int, part: int) -> int:
    """Step over optional spaces/tabs after a delimiter and the CRLF that must end its line."""
    while pos < len(body) and body[pos] in b" \t":
        pos += 1
    if not body.startswith(b"\r\n", pos):
        if pos >= len(body):
            raise MultipartError("multipart body ends without the closing boundary '--'; the body is truncated")
        raise MultipartError(f"part {part}: boundary line is not followed by CRLF")
    return pos + 2


def _parse_headers(block: bytes, part: int) -> dict[str, str]:
    """Header lines of one part, names lower-cased; folded or malformed lines are refused."""
    headers: dict[str, str] = {}
    if not block:
        return headers
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise MultipartError(f"part {part}: headers are not valid UTF-8") from None
    for line in text.split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise MultipartError(f"part {part}: malformed header line {line[:80]!r}")
        headers[name.lower()] = value.strip()
    return headers


def _store(
    headers: dict[str, str], content: bytes, part: int, fields: dict[str, str | list[str]], files: dict[str, UploadedFile]
) -> None:
    """File one part's content under its name, as a field or a file, enforcing the repetition rules."""
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError(f"part {part}: missing Content-Disposition header")
    kind, params = _split_header_value(disposition, f"part {part} Content-Disposition")
    if kind != "form-data":
        raise MultipartError(f"part {part}: Content-Disposition must be form-data, got {kind!r}")
    name = params.get("name")
    if not name:
        raise MultipartError(f"part {part}: Content-Disposition has no name parameter")
    filename = params.get("filename*") or params.get("filename")
    if filename is not None:
        if name in files or name in fields:
            raise MultipartError(f"field {name!r} is sent more than once; send one file per field")
        files[name] = UploadedFile(filename, headers.get("content-type"), content)
        return
    try:
        value = content.decode("utf-8")
    except UnicodeDecodeError:
        raise MultipartError(f"field {name!r} is not valid UTF-8 text; upload binary data as a file part") from None
    if name in files:
        raise MultipartError(f"field {name!r} is sent more than once; send one file per field")
    existing = fields.get(name)
    if name.endswith("[]"):
        if existing is None:
            fields[name] = [value]
        else:
            assert isinstance(existing, list)
            existing.append(value)
    elif existing is not None:
        raise MultipartError(f"field {name!r} is sent more than once; only names ending in [] may repeat")
    else:
        fields[name] = value


def _split_header_value(value: str, where: str) -> tuple[str, dict[str, str]]:
    """Split ``type; a=b; c="d"`` into the lower-cased type and its parameters (names lower-cased).

    Quoted values undo backslash escapes and the HTML5 ``%22``/``%0A``-style escapes httpx and browsers use;
    an RFC 5987 ``filename*=UTF-8''...`` value is percent-decoded.
    """
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM.match(rest, pos)
        if match is None:
            if rest[pos:].strip(" \t;") == "":
                break
            raise MultipartError(f"{where}: malformed parameter near {rest[pos:pos + 40]!r}")
        key = match.group(1).lower()
        pos = match.end()
        if rest.startswith('"', pos):
            raw, pos = _quoted(rest, pos + 1, where)
            params[key] = _HTML5_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
        else:
            token = _TOKEN.match(rest, pos)
            params[key] = token.group() if token else ""
            pos = token.end() if token else pos
        if key.endswith("*"):
            params[key] = _decode_extended(params[key], where)
        while pos < len(rest) and rest[pos] in " \t":
            pos += 1
        if pos < len(rest):
            if rest[pos] != ";":
                raise MultipartError(f"{where}: expected ';' between parameters near {rest[pos:pos + 40]!r}")
            pos += 1
    return head.strip().lower(), params


def _quoted(text: str, pos: int, where: str) -> tuple[str, int]:
    """Read a quoted string starting after its opening quote; return its value and the offset past it."""
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise MultipartError(f"{where}: unterminated quoted string")


def _decode_extended(value: str, where: str) -> str:
    """Decode an RFC 5987 ``charset'lang'percent-encoded`` parameter value."""
    charset, sep, rest = value.partition("'")
    _lang, sep2, encoded = rest.partition("'")
    if not sep or not sep2:
        raise MultipartError(f"{where}: extended parameter {value[:60]!r} is not charset'language'value")
    try:
        codecs.lookup(charset or "utf-8")
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError):
        raise MultipartError(f"{where}: extended parameter {value[:60]!r} does not decode as {charset!r}") from None
