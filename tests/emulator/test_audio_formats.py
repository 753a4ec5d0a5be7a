"""Tests for audio container sniffing and header-derived durations (shared by the client and the emulator).

The ``make_*`` builders write minimal but well-formed files of each container; test_audio.py reuses them.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator._audio_formats import (
    FALLBACK_BYTES_PER_SECOND,
    audio_duration,
    estimate_duration,
    extension_of,
    sniff_format,
)

from tests.helpers import silent_wav

# -- builders ---------------------------------------------------------------------------------------------


def make_flac(total_samples: int, *, rate: int = 44_100, channels: int = 2, bits: int = 16) -> bytes:
    """``fLaC`` + a STREAMINFO block (the only thing the duration reader needs) + filler frames."""
    packed = rate << 44 | (channels - 1) << 41 | (bits - 1) << 36 | total_samples
    info = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + packed.to_bytes(8, "big") + b"\x00" * 16
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info + b"\xff\xf8" + b"\x00" * 64


def _mp3_frame(*, bitrate_index: int = 9, rate_index: int = 0, payload: bytes = b"") -> bytes:
    """One MPEG-1 Layer III stereo frame (9 = 128 kbit/s, 0 = 44.1 kHz) padded to its exact length."""
    header = bytes([0xFF, 0xFB, bitrate_index << 4 | rate_index << 2, 0x00])
    length = 144 * (128_000 if bitrate_index == 9 else 0) // 44_100
    return header + payload + b"\x00" * (length - 4 - len(payload))


def id3_tag(size: int = 40) -> bytes:
    """An ID3v2.4 tag whose body contains bytes that look like an MPEG frame sync."""
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x04\x00\x00" + syncsafe + (b"\xff\xfb\x90\x00" + b"T" * size)[:size]


def make_mp3(frames: int, *, xing_frames: int | None = None, id3: bool = False, id3v1: bool = False) -> bytes:
    """A CBR MP3 of ``frames`` frames; with ``xing_frames`` the first frame carries a Xing header."""
    out = [id3_tag()] if id3 else []
    if xing_frames is not None:
        out.append(_mp3_frame(payload=b"\x00" * 32 + b"Xing" + struct.pack(">II", 1, xing_frames)))
    out.extend(_mp3_frame() for _ in range(frames))
    if id3v1:
        out.append(b"TAG" + b"\x00" * 125)
    return b"".join(out)


def _ogg_page(packet: bytes, *, granule: int, header_type: int) -> bytes:
    return b"OggS\x00" + bytes([header_type]) + struct.pack("<qIII", granule, 1, 0, 0) + bytes([1, len(packet)]) + packet


def make_ogg_vorbis(samples: int, *, rate: int = 48_000) -> bytes:
    """Ogg Vorbis: identification header page, a data page, and a last page at granule ``samples``."""
    ident = b"\x01vorbis" + struct.pack("<IBIiii", 0, 2, rate, 0, 128_000, 0) + b"\xb8\x01"
    return (
        _ogg_page(ident, granule=0, header_type=2)
        + _ogg_page(b"\x00" * 50, granule=-1, header_type=0)
        + _ogg_page(b"\x00" * 50, granule=samples, header_type=4)
    )


def make_ogg_opus(samples_48k: int, *, pre_skip: int = 312) -> bytes:
    """Ogg Opus: OpusHead page and a last page whose granule includes the pre-skip."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 16_000, 0, 0)
    return _ogg_page(head, granule=0, header_type=2) + _ogg_page(b"\x00" * 40, granule=samples_48k + pre_skip, header_type=4)


def _box(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(content), kind) + content


def make_mp4(duration: int, timescale: int, *, version: int = 0, brand: bytes = b"M4A ", large_mdat: bool = False) -> bytes:
    """ISO-BMFF: ftyp, an mdat, then moov/mvhd (after the media, as many encoders write it)."""
    if version == 0:
        mvhd = b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, timescale, duration) + b"\x00" * 80
    else:
        mvhd = b"\x01\x00\x00\x00" + struct.pack(">QQIQ", 0, 0, timescale, duration) + b"\x00" * 80
    mdat_body = b"\x00" * 100
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(mdat_body)) + mdat_body if large_mdat else _box(b"mdat", mdat_body)
    moov = _box(b"moov", _box(b"udta", b"\x00" * 8) + _box(b"mvhd", mvhd))
    return _box(b"ftyp", brand + b"\x00\x00\x00\x00" + brand) + mdat + moov


def _ebml(element: int, content: bytes) -> bytes:
    ident = element.to_bytes((element.bit_length() + 7) // 8, "big")
    return ident + (0x10000000 | len(content)).to_bytes(4, "big") + content  # 4-byte size vint


def make_webm(duration_ticks: float, *, scale: int = 1_000_000, float32: bool = False) -> bytes:
    """EBML header, a Segment of unknown size, Info (TimecodeScale, Duration), then a Cluster."""
    header = _ebml(0x1A45DFA3, _ebml(0x4282, b"webm"))
    info = _ebml(0x2AD7B1, scale.to_bytes(3, "big")) + _ebml(0x4489, struct.pack(">f" if float32 else ">d", duration_ticks))
    segment_body = _ebml(0x114D9B74, b"\x00" * 10) + _ebml(0x1549A966, info) + _ebml(0x1F43B675, b"\x00" * 30)
    return header + b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + segment_body


SAMPLES: dict[str, tuple[bytes, float]] = {
    "wav": (silent_wav(2.5), 2.5),
    "flac": (make_flac(441_000), 10.0),
    "mp3": (make_mp3(2, xing_frames=1000), 1000 * 1152 / 44_100),
    "ogg": (make_ogg_vorbis(96_000), 2.0),
    "mp4": (make_mp4(12_345, 1000), 12.345),
    "webm": (make_webm(4321.0), 4.321),
}


# -- tests ------------------------------------------------------------------------------------------------


class TestSniff:
    @pytest.mark.parametrize("fmt", sorted(SAMPLES))
    def test_each_container_is_recognised(self, fmt: str) -> None:
        """Every sample builder's bytes sniff as their own container."""
        assert sniff_format(SAMPLES[fmt][0]) == fmt

    def test_mp3_with_id3_and_flac_with_id3(self) -> None:
        """A leading ID3 tag is MP3 unless a fLaC marker follows it."""
        assert (sniff_format(make_mp3(3, id3=True)), sniff_format(id3_tag() + make_flac(10))) == ("mp3", "flac")

    @pytest.mark.parametrize("data", [b"", b"hello world", b"\xff\xff\xff\xff", b"RIFF\x00\x00\x00\x00AVI ", b"%PDF-1.7"])
    def test_unknown_bytes(self, data: bytes) -> None:
        """Text, PDFs, AVI RIFFs and invalid frame headers are not audio."""
        assert sniff_format(data) is None

    @pytest.mark.parametrize(
        ("name", "extension"),
        [("a.WAV", "wav"), ("dir.v2/clip", None), ("https://x.test/a/b.Mp3?sig=1.2#t", "mp3"), ("C:\\rec\\x.m4a", "m4a"),
         ("noext", None), ("trailing.", None), (None, None), ("", None)],
    )
    def test_extension_of(self, name: str | None, extension: str | None) -> None:
        """Extensions come from the last path segment, lower-cased, ignoring query and fragment."""
        assert extension_of(name) == extension


class TestDuration:
    @pytest.mark.parametrize("fmt", sorted(SAMPLES))
    def test_exact_duration_from_headers(self, fmt: str) -> None:
        """Each container's header gives the duration it was built with."""
        data, seconds = SAMPLES[fmt]
        assert audio_duration(data) == pytest.approx(seconds, rel=1e-6)

    @pytest.mark.parametrize(("rate", "channels", "width"), [(8000, 1, 1), (44_100, 2, 2), (48_000, 6, 3)])
    def test_wav_layouts(self, rate: int, channels: int, width: int) -> None:
        """Byte rate handles any sample rate, channel count and sample width."""
        assert audio_duration(silent_wav(0.75, rate=rate, channels=channels, width=width)) == pytest.approx(0.75)

    def test_wav_streamed_size_and_odd_chunk_padding(self) -> None:
        """An unset (0xFFFFFFFF) data size uses the bytes present; odd-sized chunks are padded to even."""
        wav = silent_wav(1.0)
        fmt_end = 12 + 8 + 16
        listing = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
        data = wav[:fmt_end] + listing + b"data" + struct.pack("<I", 0xFFFFFFFF) + wav[fmt_end + 8 :]
        assert audio_duration(data) == pytest.approx(1.0)

    def test_truncated_wav_counts_what_is_there(self) -> None:
        """A WAV cut short reports the audio actually present, not the declared size."""
        assert audio_duration(silent_wav(2.0)[: 44 + 16_000]) == pytest.approx(0.5)

    def test_mp3_cbr_estimate_from_bitrate(self) -> None:
        """Without a Xing header a CBR MP3 lasts bytes x 8 / bitrate, after skipping ID3v2 and ID3v1 tags."""
        data = make_mp3(100, id3=True, id3v1=True)
        assert audio_duration(data) == pytest.approx(100 * 417 * 8 / 128_000)

    def test_mp3_vbri_header(self) -> None:
        """A Fraunhofer VBRI header's frame count gives the duration."""
        first = _mp3_frame(payload=b"\x00" * 32 + b"VBRI" + b"\x00" * 10 + struct.pack(">I", 500))
        assert audio_duration(first + make_mp3(2)) == pytest.approx(500 * 1152 / 44_100)

    def test_mpeg_extension_alias_for_headerless_stream(self) -> None:
        """The mpga/mpeg extensions map to the MP3 reader when bytes do not start with a frame."""
        data = b"\x00" * 10 + make_mp3(10)
        assert (audio_duration(data), audio_duration(data, "mpga")) == (None, pytest.approx(10 * 417 * 8 / 128_000))

    def test_opus_subtracts_pre_skip(self) -> None:
        """Ogg Opus durations are granule minus pre-skip at 48 kHz."""
        assert audio_duration(make_ogg_opus(48_000 * 3)) == pytest.approx(3.0)

    def test_mp4_version_1_and_64_bit_box(self) -> None:
        """A version-1 mvhd after a 64-bit-sized mdat box is read."""
        assert audio_duration(make_mp4(90_000 * 7, 90_000, version=1, large_mdat=True)) == pytest.approx(7.0)

    def test_webm_float32_and_custom_scale(self) -> None:
        """Matroska float32 durations and a non-default TimecodeScale are honoured."""
        assert audio_duration(make_webm(2500.0, scale=2_000_000, float32=True)) == pytest.approx(5.0)

    @pytest.mark.parametrize(
        "data",
        [
            make_flac(0),
            make_mp4(0xFFFFFFFF, 1000),
            make_mp4(10, 0),
            b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\x00" * 16 + b"data\x04\x00\x00\x00abcd",
            b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x05" + b"other",
            b"\x00\x00\x00\x10ftypisom" + b"\x00" * 4,
            make_webm(100.0)[:40],
        ],
    )
    def test_unknowable_durations_are_none(self, data: bytes) -> None:
        """Zero sample counts, unknown durations, zero rates, foreign codecs and missing boxes give None."""
        assert audio_duration(data) is None

    def test_wav_chunk_walk_is_bounded(self) -> None:
        """A real data chunk hidden behind 20,000 empty chunks is not reached: the walk stops at 10,000."""
        wav = silent_wav(1.0)
        junk = b"JUNK\x00\x00\x00\x00" * 20_000
        assert audio_duration(wav[:12] + junk[:800] + wav[12:]) == pytest.approx(1.0)
        assert audio_duration(wav[:12] + junk + wav[12:]) is None

    def test_ogg_page_walk_is_bounded(self) -> None:
        """A final granule hidden behind 20,000 unfinished pages is not reached: the walk stops at 10,000."""
        unfinished = b"OggS\x00\x00" + b"\xff" * 8
        assert audio_duration(make_ogg_vorbis(96_000) + unfinished * 100) == pytest.approx(2.0)
        assert audio_duration(make_ogg_vorbis(96_000) + unfinished * 20_000) is None

    def test_estimate_falls_back_to_size(self) -> None:
        """estimate_duration uses 16 kB/s when headers do not say, and flags the result as an estimate."""
        assert estimate_duration(b"\x00" * 48_000) == (48_000 / FALLBACK_BYTES_PER_SECOND, False)
        assert estimate_duration(silent_wav(1.0)) == (pytest.approx(1.0), True)


@settings(max_examples=300, deadline=None)
@given(fmt=st.sampled_from(sorted(SAMPLES)), cut=st.integers(0, 400), flip=st.integers(0, 400), byte=st.integers(0, 255))
def test_damaged_files_never_raise(fmt: str, cut: int, flip: int, byte: int) -> None:
    """Truncated or corrupted files give a finite non-negative duration or None, never an exception."""
    data = bytearray(SAMPLES[fmt][0][:cut])
    if data:
        data[flip % len(data)] = byte
    for hint in (None, fmt):
        seconds = audio_duration(bytes(data), hint)
        assert seconds is None or 0 <= seconds < 10**9


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    """Arbitrary bytes sniff to a known name or None and never crash a reader."""
    assert sniff_format(data) in (None, "wav", "flac", "mp3", "ogg", "mp4", "webm")
    for hint in (None, "wav", "flac", "mp3", "ogg", "mp4", "webm", "m4a"):
        audio_duration(data, hint)
