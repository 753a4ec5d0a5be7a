"""SubRip (srt) and WebVTT (vtt) captions rendered from ``verbose_json`` transcription segments.

Why here and not on the server: Groq's audio endpoints answer only json, text and verbose_json, yet the
spec (and OpenAI's API) offer srt and vtt.  The client asks Groq for verbose_json and renders the captions
itself with these two functions; the emulator uses the same functions, so both sides print identical files.

The formats differ only in small ways, which is why the renderers share one cue builder:

=============  =========================  =========================
               SubRip                     WebVTT
=============  =========================  =========================
header         none                       ``WEBVTT`` and a blank line
cue number     1, 2, 3, ... before cues   none
timestamp      ``00:00:01,500``           ``00:00:01.500``
cue text       as is                      ``&``, ``<``, ``>`` escaped (so no ``-->``)
=============  =========================  =========================

A cue's text is the segment's text with surrounding whitespace removed; blank lines inside it are
collapsed, because a blank line ends a cue in both formats.  Segments whose text is blank produce no cue
(an empty cue would end the file early for many SubRip readers), so cue numbers count only the cues written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Protocol

__all__ = ["SegmentLike", "format_timestamp", "to_srt", "to_vtt"]


class SegmentLike(Protocol):
    """Anything with a segment's ``start``, ``end`` (seconds) and ``text``, such as ``_wire.Segment``."""

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def text(self) -> str: ...


Segments = Iterable["SegmentLike | Mapping[str, object]"]


def format_timestamp(seconds: float, *, decimal_marker: str) -> str:
    """Render ``seconds`` as ``HH:MM:SS<marker>mmm``, rounded to the nearest millisecond.

    Hours grow past two digits for recordings longer than 99 hours instead of wrapping around.

    Raises:
        ValueError: ``seconds`` is negative, NaN or infinite.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"timestamp {seconds!r} must be a finite, non-negative number of seconds")
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_marker}{millis:03d}"


def to_srt(segments: Segments) -> str:
    """SubRip captions: numbered cues ``1``, ``00:00:00,000 --> 00:00:02,500``, text, blank line.

    Args:
        segments: ``verbose_json`` segments, as ``_wire.Segment`` structs or decoded dicts.

    Returns:
        The whole file as text; empty when no segment has text.

    Raises:
        ValueError: a segment has a missing, negative or non-finite time, or ends before it starts
            (the message names the segment's position).
    """
    blocks = []
    for number, (start, end, text) in enumerate(_cues(segments), start=1):
        blocks.append(
            f"{number}\n{format_timestamp(start, decimal_marker=',')} --> "
            f"{format_timestamp(end, decimal_marker=',')}\n{text}\n"
        )
    return "\n".join(blocks)


def to_vtt(segments: Segments) -> str:
    """WebVTT captions: ``WEBVTT``, a blank line, then ``00:00:00.000 --> 00:00:02.500`` cues.

    Args:
        segments: ``verbose_json`` segments, as ``_wire.Segment`` structs or decoded dicts.

    Returns:
        The whole file as text; just the header when no segment has text.

    Raises:
        ValueError: as for :func:`to_srt`.
    """
    blocks = ["WEBVTT\n"]
    for start, end, text in _cues(segments):
        blocks.append(
            f"{format_timestamp(start, decimal_marker='.')} --> {format_timestamp(end, decimal_marker='.')}\n"
            f"{_escape_vtt(text)}\n"
        )
    return "\n".join(blocks)


def _cues(segments: Segments) -> Iterable[tuple[float, float, str]]:
    """Yield (start, end, cleaned text) for every segment with text, checking its times."""
    for index, segment in enumerate(segments):
        start = _field(segment, "start", index)
        end = _field(segment, "end", index)
        raw = segment.get("text", "") if isinstance(segment, Mapping) else segment.text
        if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
            raise ValueError(f"segment {index}: start and end must be numbers, got {start!r} and {end!r}")
        for name, value in (("start", start), ("end", end)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"segment {index}: {name}={value!r} must be a finite, non-negative number of seconds")
        if end < start:
            raise ValueError(f"segment {index}: end={end!r} is before start={start!r}; fix the segment times")
        text = _clean(str(raw))
        if text:
            yield float(start), float(end), text


def _field(segment: SegmentLike | Mapping[str, object], name: str, index: int) -> object:
    """Read ``start``/``end`` from a struct or a dict, naming the segment when it is missing."""
    if isinstance(segment, Mapping):
        if name not in segment:
            raise ValueError(f"segment {index}: has no {name!r} time")
        return segment[name]
    return getattr(segment, name)


def _clean(text: str) -> str:
    """Strip the text and drop blank lines inside it (a blank line would end the cue)."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _escape_vtt(text: str) -> str:
    """Escape what WebVTT cue text may not contain literally: ``&``, ``<``, ``>`` and the ``-->`` arrow."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
