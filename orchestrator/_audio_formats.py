"""Recognise audio containers by their first bytes and read their duration from their headers.

Why: Groq bills audio by duration (minimum 10 s, ASH/ASD limits count audio seconds), so both the client
(to budget audio seconds before sending) and the emulator (to report ``duration`` and charge its limiter)
need the length of a file without decoding it.  Every supported container records enough in its headers:

======  ===============================================================================
wav     ``data`` chunk size / ``fmt `` byte rate
flac    STREAMINFO total samples / sample rate
mp3     Xing/Info or VBRI frame count x samples per frame / sample rate; else CBR: bytes x 8 / bitrate
ogg     last page's granule position / sample rate (Vorbis id header, or Opus at 48 kHz minus pre-skip)
mp4     ``moov/mvhd`` duration / timescale (also m4a)
webm    ``Segment/Info`` Duration x TimecodeScale (Matroska EBML)
======  ===============================================================================

Nothing here decodes audio or trusts a header blindly: every read is bounds-checked, and a header that is
missing, truncated or nonsensical gives ``None`` ("unknown"), never an exception, so callers fall back to
an estimate from the size (:data:`FALLBACK_BYTES_PER_SECOND`).  Pure functions; no IO.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = [
    "FALLBACK_BYTES_PER_SECOND",
    "audio_duration",
    "estimate_duration",
    "extension_of",
    "sniff_format",
]

#: Assumed bitrate (128 kbit/s) when a file's headers do not give its duration.
FALLBACK_BYTES_PER_SECOND: Final = 16_000

_SCAN_LIMIT = 64 * 1024  # how far into an MP3 (after ID3) to look for the first frame
_MAX_BOXES = 10_000  # bound on WAV chunks, Ogg pages, MP4 boxes and EBML elements visited


def extension_of(filename: str | None) -> str | None:
    """The lower-cased extension of a file name or URL path (``"a/b.Mp3?x=1"`` -> ``"mp3"``), or None."""
    if not filename:
        return None
    base = filename.split("?", 1)[0].split("#", 1)[0].replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in base:
        return None
    extension = base.rsplit(".", 1)[1].lower()
    return extension or None


def sniff_format(data: bytes) -> str | None:
    """The container of ``data`` from its magic bytes: wav, flac, mp3, ogg, mp4 or webm; None if unknown.

    ``mp4`` covers every ISO-BMFF brand (m4a, mp4, mov); ``mp3`` covers MPEG audio layers I-III with or
    without an ID3v2 tag (the ``mpeg``/``mpga`` extensions).
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC" or (data[:3] == b"ID3" and data[_id3_size(data) : _id3_size(data) + 4] == b"fLaC"):
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if data[:3] == b"ID3" or _mpeg_frame(data, 0) is not None:
        return "mp3"
    return None


def audio_duration(data: bytes, fmt: str | None = None) -> float | None:
    """Seconds of audio according to the container's headers, or None when they do not say.

    The bytes decide: the container is sniffed from ``data``, and ``fmt`` (an extension such as ``m4a`` or
    ``mpga`` is mapped to its container) is only used when sniffing fails, e.g. for a headerless MP3 stream.

    Args:
        data: the whole file.
        fmt: the container or file extension the caller believes in, if any.
    """
    container = sniff_format(data) or (_ALIASES.get(fmt, fmt) if fmt else None)
    reader = _READERS.get(container or "")
    if reader is None:
        return None
    try:
        seconds = reader(data)
    except (struct.error, IndexError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if seconds is None or not 0 <= seconds < 10**9:
        return None
    return seconds


def estimate_duration(data: bytes, fmt: str | None = None) -> tuple[float, bool]:
    """``(seconds, exact)``: the header duration when known (exact), else size / 16 kB/s (an estimate)."""
    seconds = audio_duration(data, fmt)
    if seconds is not None:
        return seconds, True
    return len(data) / FALLBACK_BYTES_PER_SECOND, False


# -- WAV --------------------------------------------------------------------------------------------------


def _wav(data: bytes) -> float | None:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    byte_rate = 0
    pos = 12
    for _ in range(_MAX_BOXES):
        if pos + 8 > len(data):
            break
        chunk, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            byte_rate = struct.unpack_from("<I", data, body + 8)[0]
        elif chunk == b"data":
            available = len(data) - body
            if size == 0xFFFFFFFF or size > available:
                size = available  # streamed WAVs leave the size unset; truncated ones hold less than declared
            return size / byte_rate if byte_rate else None
        pos = body + size + (size & 1)
    return None


# -- FLAC -------------------------------------------------------------------------------------------------


def _flac(data: bytes) -> float | None:
    start = _id3_size(data) if data[:3] == b"ID3" else 0
    if data[start : start + 4] != b"fLaC" or data[start + 4] & 0x7F != 0:
        return None
    info = data[start + 8 : start + 8 + 34]  # STREAMINFO is always the first metadata block
    if len(info) < 18:
        return None
    packed = int.from_bytes(info[10:18], "big")
    sample_rate = packed >> 44
    total_samples = packed & ((1 << 36) - 1)
    if not sample_rate or not total_samples:
        return None
    return total_samples / sample_rate


# -- MPEG audio (mp3, mpeg, mpga) -------------------------------------------------------------------------

_BITRATES = {  # kbit/s by (MPEG-1?, layer), index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class _Frame:
    """The fields of one MPEG audio frame header that matter for timing."""

    __slots__ = ("mpeg1", "layer", "bitrate", "sample_rate", "mono", "length", "samples")

    def __init__(self, mpeg1: bool, layer: int, bitrate: int, sample_rate: int, mono: bool, padding: int) -> None:
        self.mpeg1, self.layer, self.bitrate, self.sample_rate, self.mono = mpeg1, layer, bitrate, sample_rate, mono
        self.samples = 384 if layer == 1 else 1152 if layer == 2 or mpeg1 else 576
        if layer == 1:
            self.length = (12 * bitrate * 1000 // sample_rate + padding) * 4
        else:
            self.length = self.samples // 8 * bitrate * 1000 // sample_rate + padding


def _mpeg_frame(data: bytes, pos: int) -> _Frame | None:
    """Parse the frame header at ``pos``, or None if there is no valid one."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    version = (data[pos + 1] >> 3) & 3
    layer = 4 - ((data[pos + 1] >> 1) & 3)
    bitrate_index = data[pos + 2] >> 4
    rate_index = (data[pos + 2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index - 1]
    return _Frame(mpeg1, layer, bitrate, _SAMPLE_RATES[version][rate_index], data[pos + 3] >> 6 == 3, (data[pos + 2] >> 1) & 1)


def _mp3(data: bytes) -> float | None:
    start = _id3_size(data) if data[:3] == b"ID3" else 0
    end = len(data) - 128 if data[-128:-125] == b"TAG" else len(data)  # ID3v1 trailer
    pos, frame = start, None
    while pos < min(end, start + _SCAN_LIMIT):
        frame = _mpeg_frame(data, pos)
        # A real frame is followed by another (or by the end): this rejects stray 0xFFEx bytes in tags.
        if frame is not None and frame.length > 0 and (pos + frame.length >= end or _mpeg_frame(data, pos + frame.length)):
            break
        frame = None
        pos = data.find(b"\xff", pos + 1, end)
        if pos < 0:
            return None
    if frame is None:
        return None
    side_info = (32 if not frame.mono else 17) if frame.mpeg1 else (17 if not frame.mono else 9)
    xing = pos + 4 + side_info
    if data[xing : xing + 4] in (b"Xing", b"Info"):
        flags = struct.unpack_from(">I", data, xing + 4)[0]
        if flags & 1:
            return struct.unpack_from(">I", data, xing + 8)[0] * frame.samples / frame.sample_rate
    vbri = pos + 4 + 32
    if data[vbri : vbri + 4] == b"VBRI":
        return struct.unpack_from(">I", data, vbri + 14)[0] * frame.samples / frame.sample_rate
    return (end - pos) * 8 / (frame.bitrate * 1000)


def _id3_size(data: bytes) -> int:
    """Length of a leading ID3v2 tag (header, syncsafe size, optional footer), 0 if there is none."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)


# -- Ogg (Vorbis, Opus) ------------------------------------------------------------------------------------


def _ogg(data: bytes) -> float | None:
    if data[:4] != b"OggS" or len(data) < 28:
        return None
    packet = data[27 + data[26] :]
    if packet[:7] == b"\x01vorbis":
        rate, skip = struct.unpack_from("<I", packet, 12)[0], 0
    elif packet[:8] == b"OpusHead":
        rate, skip = 48_000, struct.unpack_from("<H", packet, 10)[0]
    else:
        return None
    pos = len(data)
    for _ in range(_MAX_BOXES):
        pos = data.rfind(b"OggS", 0, pos)
        if pos < 0:
            return None
        if pos + 14 <= len(data) and data[pos + 4] == 0:
            granule = struct.unpack_from("<q", data, pos + 6)[0]
            if granule >= 0:
                return max(granule - skip, 0) / rate if rate else None
    return None


# -- MP4 / M4A (ISO base media file format) -----------------------------------------------------------------


def _mp4(data: bytes) -> float | None:
    moov = _find_box(data, 0, len(data), b"moov")
    if moov is None:
        return None
    mvhd = _find_box(data, moov[0], moov[1], b"mvhd")
    if mvhd is None:
        return None
    pos = mvhd[0]
    if data[pos] == 1:
        timescale, duration = struct.unpack_from(">IQ", data, pos + 20)
    else:
        timescale, duration = struct.unpack_from(">II", data, pos + 12)
    return duration / timescale if timescale and duration != 0xFFFFFFFF else None


def _find_box(data: bytes, start: int, stop: int, kind: bytes) -> tuple[int, int] | None:
    """(content start, content end) of the first ``kind`` box directly inside [start, stop)."""
    pos = start
    for _ in range(_MAX_BOXES):
        if pos + 8 > stop:
            return None
        size, box = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = stop - pos
        if size < header:
            return None
        if box == kind:
            return pos + header, min(pos + size, stop)
        pos += size
    return None


# -- WebM / Matroska (EBML) ---------------------------------------------------------------------------------

_SEGMENT, _INFO, _TIMECODE_SCALE, _DURATION = 0x18538067, 0x1549A966, 0x2AD7B1, 0x4489


def _webm(data: bytes) -> float | None:
    if data[:4] != b"\x1a\x45\xdf\xa3":
        return None
    pos, end = 0, len(data)
    scale, duration = 1_000_000, None
    for _ in range(_MAX_BOXES):
        if pos >= end:
            break
        element, pos = _ebml_vint(data, pos, keep_marker=True)
        size, pos = _ebml_vint(data, pos, keep_marker=False)
        if element in (_SEGMENT, _INFO):
            end = len(data) if size is None else min(pos + size, len(data))
            continue  # descend: the children start right here
        if size is None:
            break
        if element == _TIMECODE_SCALE:
            scale = int.from_bytes(data[pos : pos + size], "big")
        elif element == _DURATION:
            duration = struct.unpack_from(">f" if size == 4 else ">d", data, pos)[0]
        pos += size
    if duration is None or not scale:
        return None
    return duration * scale / 1e9


def _ebml_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int | None, int]:
    """Read an EBML variable-length integer; an all-ones size means "unknown" (None)."""
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("invalid EBML variable-length integer")
    value = int.from_bytes(data[pos : pos + length], "big")
    if keep_marker:
        return value, pos + length
    value &= (1 << (7 * length)) - 1
    return (None if value == (1 << (7 * length)) - 1 else value), pos + length


_READERS = {"wav": _wav, "flac": _flac, "mp3": _mp3, "ogg": _ogg, "mp4": _mp4, "webm": _webm}
_ALIASES = {"mpeg": "mp3", "mpga": "mp3", "m4a": "mp4", "oga": "ogg", "opus": "ogg", "wave": "wav", "mkv": "webm"}
