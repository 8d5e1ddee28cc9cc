"""Media processing: an uploaded image or video in, what may be published out. Pure functions: bytes or
paths in, results out, no store, no network, no Ray (the media worker, ``actors/media_worker.py``, does the
I/O around them).

Images (Pillow): the type is sniffed from the bytes (JPEG, PNG, WebP, GIF only: a zip renamed ``.png`` is
refused), the header's size is checked *before* anything is decoded (``MAX_IMAGE_PIXELS``, a decompression
bomb is refused in microseconds), a truncated or undecodable file is refused. The EXIF orientation is
applied to the pixels, a non-sRGB ICC profile is converted to sRGB, and the image is re-encoded from its
pixels alone into a new image object: EXIF (GPS included), XMP, IPTC, comments and ICC profiles are not
carried over. Out come the cleaned image in the same format, a WebP thumbnail (at most ``THUMB_MAX`` px a
side), the size and a blurhash. Animated GIFs stay animated (each frame re-encoded, metadata dropped,
bounded by ``MAX_GIF_FRAMES`` and ``MAX_ANIMATION_PIXELS``); their thumbnail is the first frame.

Videos (PyAV, FFmpeg's libraries with libx264 in the ``av`` wheel, in-process): the container is sniffed
from the bytes (MP4/QuickTime by ``ftyp``, WebM/Matroska by the EBML magic) and opened with that demuxer
alone (never FFmpeg's guess: no playlist or concat demuxer can be made to read other files). Refused: no
video stream, frames over ``MAX_VIDEO_PIXELS`` or ``MAX_VIDEO_FPS``, longer than ``MAX_VIDEO_MS`` (by the header, and again while
decoding, so a lying header does not help), undecodable or truncated input (decoding stops well short of the
declared duration), or processing past its deadline. Out: H.264 (yuv420p, ``PRESET``/``CRF``) + AAC in MP4
at most 720p keeping the aspect ratio, with the ``moov`` atom first (``+faststart``: playback and ``Range``
requests start before the whole file arrived), a JPEG poster frame, its blurhash, size and ``duration_ms``.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import blurhash
from PIL import Image, ImageCms, ImageFile, ImageOps, ImageSequence

# -- limits --------------------------------------------------------------------------------------------
MAX_IMAGE_PIXELS = 50_000_000  # 50 MP: a bigger header is a refusal, before any decoding
MAX_GIF_FRAMES = 500
MAX_ANIMATION_PIXELS = 200_000_000  # width × height × frames of an animated GIF
THUMB_MAX = 480  # px, the longer side of a thumbnail
THUMB_QUALITY = 80
IMAGE_QUALITY = 88  # JPEG and lossy WebP re-encoding
BLURHASH_SIDE = 32  # px: the blurhash is computed on this small a copy
MAX_VIDEO_MS = 60_000
VIDEO_TOLERANCE_MS = 250  # container rounding: a 60.1 s phone clip of a "60 s" recording passes
MAX_VIDEO_PIXELS = 8192 * 4320  # per frame, before decoding
MAX_VIDEO_FPS = 120
OUT_LONG, OUT_SHORT = 1280, 720  # ≤ 720p: the longer side ≤ 1280, the shorter ≤ 720
PRESET = "veryfast"  # libx264 (loadtest/bench_media.py compares it with ultrafast and medium)
CRF = 23
AUDIO_BITRATE = 128_000
OUT_FPS_MAX = 60
POSTER_AT_S = 1.0  # the poster is the frame at this time (the first one for shorter clips)
TIME_BASE = Fraction(1, 90_000)  # of the output video's timestamps
DEADLINE_S = 120.0  # wall-clock budget of one video's processing
THREADS = max(1, min(4, os.cpu_count() or 1))  # per decoder and per encoder

# Pillow's own guard (warning at 1×, DecompressionBombError at 2×) stays on as a second line; ours refuses
# at 1× before decoding.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Its warning between 1× and 2× is noise here: such an image is refused right after the header is read.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
ImageFile.LOAD_TRUNCATED_IMAGES = False

TOO_MANY_PIXELS = f"an image may have at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels"
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
IMAGE_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}


class MediaRejected(Exception):
    """Input the server will not publish: ``code`` is one of the contract's (``invalid``, ``too_large``),
    ``message`` says why in words for the uploader."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ImageResult:
    data: bytes  # the cleaned image, no metadata
    content_type: str
    ext: str
    width: int
    height: int
    thumbnail: bytes  # WebP, at most THUMB_MAX px a side
    thumbnail_content_type: str
    blurhash: str
    animated: bool = False


@dataclass(frozen=True)
class VideoResult:
    path: Path  # the transcoded MP4 (H.264/AAC, moov first)
    content_type: str
    width: int
    height: int
    duration_ms: int
    has_audio: bool
    poster: bytes  # JPEG
    poster_content_type: str
    blurhash: str
    source_width: int
    source_height: int


# -- images --------------------------------------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """The image format by magic bytes (``JPEG``/``PNG``/``WEBP``/``GIF``), or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    return None


def process_image(data: bytes) -> ImageResult:
    """Verify, orient, strip and re-encode one uploaded image; raises ``MediaRejected``."""
    fmt = sniff_image(data)
    if fmt is None:
        raise MediaRejected("invalid", "not a JPEG, PNG, WebP or GIF image")
    try:
        img = Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError as exc:
        raise MediaRejected("too_large", TOO_MANY_PIXELS) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected("invalid", f"the {fmt} image cannot be read: {exc}") from exc
    width, height = img.size
    if width < 1 or height < 1:
        raise MediaRejected("invalid", "the image has no pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaRejected("too_large", f"the image is {width}×{height} pixels; {TOO_MANY_PIXELS}")
    frames = getattr(img, "n_frames", 1)
    animated = fmt == "GIF" and frames > 1
    if animated and (frames > MAX_GIF_FRAMES or width * height * frames > MAX_ANIMATION_PIXELS):
        raise MediaRejected("too_large", f"the animation has too many frames ({frames})")
    try:
        if animated:
            cleaned, still = _clean_animation(img)
        else:
            img.load()
            still = _clean_still(img)
            cleaned = _encode_still(still, fmt)
    except MediaRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise MediaRejected("too_large", TOO_MANY_PIXELS) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaRejected("invalid", f"the {fmt} image is truncated or corrupt: {exc}") from exc
    thumb = still.copy()
    thumb.thumbnail((THUMB_MAX, THUMB_MAX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=THUMB_QUALITY, method=4)
    return ImageResult(
        data=cleaned,
        content_type=IMAGE_FORMATS[fmt],
        ext=IMAGE_EXT[fmt],
        width=still.width,
        height=still.height,
        thumbnail=out.getvalue(),
        thumbnail_content_type="image/webp",
        blurhash=image_blurhash(thumb),
        animated=animated,
    )


def _to_srgb(img: Image.Image) -> Image.Image:
    """Pixels in sRGB: an embedded ICC profile (other than sRGB) is applied, then dropped with the rest."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(src) or "").lower():
            return img
        out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img  # an unreadable profile: the pixels as they are (the profile itself is not kept)
    return converted or img


def _clean_still(img: Image.Image) -> Image.Image:
    """A new image with the pixels alone, upright and in sRGB: no ``info`` (EXIF, XMP, ICC, comments)."""
    oriented = ImageOps.exif_transpose(img) or img
    oriented = _to_srgb(oriented)
    if oriented.mode == "P" or oriented.mode == "LA" or "transparency" in oriented.info:
        oriented = oriented.convert("RGBA")
    elif oriented.mode not in ("RGB", "RGBA", "L"):
        oriented = oriented.convert("RGB")
    fresh = Image.new(oriented.mode, oriented.size)
    fresh.paste(oriented)
    return fresh


def _encode_still(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        rgb = img if img.mode in ("RGB", "L") else img.convert("RGB")
        rgb.save(out, "JPEG", quality=IMAGE_QUALITY, optimize=True)
    elif fmt == "PNG":
        img.save(out, "PNG")
    elif fmt == "WEBP":
        img.save(out, "WEBP", quality=IMAGE_QUALITY, method=4)
    else:  # a one-frame GIF
        img.convert("RGBA" if img.mode == "RGBA" else "RGB").save(out, "GIF")
    return out.getvalue()


def _clean_animation(img: Image.Image) -> tuple[bytes, Image.Image]:
    """Every frame re-encoded as a new GIF (frame timing and loop kept, comments and extensions not);
    returns it and the first frame."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(img):
        durations.append(int(frame.info.get("duration", 100)))
        rgba = frame.convert("RGBA")
        fresh = Image.new("RGBA", rgba.size)
        fresh.paste(rgba)
        frames.append(fresh)
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=durations,
        loop=int(img.info.get("loop", 0)),
        disposal=2,
    )
    return out.getvalue(), frames[0]


def image_blurhash(img: Image.Image) -> str:
    """The blurhash (https://blurha.sh) of an image: 4×3 components (3×4 for portrait), from a copy at
    most BLURHASH_SIDE px a side."""
    small = img.convert("RGB")
    small.thumbnail((BLURHASH_SIDE, BLURHASH_SIDE), Image.Resampling.BILINEAR)
    x, y = (4, 3) if small.width >= small.height else (3, 4)
    pixels = list(small.getdata())
    rows = [pixels[r * small.width : (r + 1) * small.width] for r in range(small.height)]
    return str(blurhash.encode(rows, components_x=x, components_y=y))


# -- videos --------------------------------------------------------------------------------------------


def sniff_video(head: bytes) -> str | None:
    """The demuxer for a video by its first bytes: ``mp4`` (MP4, QuickTime: an ``ftyp``, ``moov``,
    ``mdat``, ``free`` or ``wide`` box first) or ``matroska`` (WebM), else None."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    return None


def fit_720p(width: int, height: int) -> tuple[int, int]:
    """The output size: at most 1280×720 (720×1280 portrait), aspect kept, never upscaled, even sides."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, OUT_LONG / long_side, OUT_SHORT / short_side)
    w, h = max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)
    return w, h


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.until:
            raise MediaRejected("too_large", f"the video took longer than {self.seconds:.0f} s to process")


def process_video(
    src: str | Path,
    dst: str | Path,
    *,
    preset: str = PRESET,
    crf: int = CRF,
    deadline_s: float = DEADLINE_S,
    max_ms: int = MAX_VIDEO_MS,
    threads: int = THREADS,
) -> VideoResult:
    """Transcode ``src`` to ``dst`` (MP4, H.264/AAC, ≤ 720p, faststart) with a poster; raises
    ``MediaRejected`` (``dst`` is then removed)."""
    import av

    src, dst = Path(src), Path(dst)
    with open(src, "rb") as f:
        demuxer = sniff_video(f.read(16))
    if demuxer is None:
        raise MediaRejected("invalid", "not an MP4, QuickTime or WebM video")
    deadline = _Deadline(deadline_s)
    try:
        return _transcode(av, src, dst, demuxer, preset, crf, deadline, max_ms, threads)
    except MediaRejected:
        dst.unlink(missing_ok=True)
        raise
    except (av.error.FFmpegError, ValueError, EOFError, OSError) as exc:
        dst.unlink(missing_ok=True)
        raise MediaRejected("invalid", f"the video cannot be decoded: {exc}") from exc


def _transcode(
    av: Any,
    src: Path,
    dst: Path,
    demuxer: str,
    preset: str,
    crf: int,
    deadline: _Deadline,
    max_ms: int,
    threads: int,
) -> VideoResult:
    with av.open(str(src), format=demuxer, metadata_errors="ignore") as inp:
        vin, ain, declared_ms = _probe(inp, max_ms)
        src_w, src_h = vin.codec_context.width, vin.codec_context.height
        rate = vin.average_rate or vin.guessed_rate or Fraction(30)
        out_rate = min(rate, Fraction(OUT_FPS_MAX))
        w, h = fit_720p(src_w, src_h)
        vin.thread_type = "AUTO"
        vin.codec_context.thread_count = threads
        with av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            job = _Job(av, out, w, h, out_rate, ain, preset, crf, threads, max_ms)
            for packet in inp.demux(*(s for s in (vin, ain) if s is not None)):
                deadline.check()
                if packet.stream is vin:
                    for frame in packet.decode():
                        job.video(frame)
                elif ain is not None:
                    for frame in packet.decode():
                        job.audio(frame)
            job.finish()
        duration_ms = round((job.last_s + (float(1 / out_rate) if out_rate else 0.0)) * 1000)
        if declared_ms is not None and duration_ms < declared_ms * 0.9 - 500:
            raise MediaRejected(
                "invalid",
                f"the video is truncated: {duration_ms / 1000:.1f} s of {declared_ms / 1000:.1f} s decode",
            )
    assert job.poster is not None  # finish() refuses a video without a frame
    buf = io.BytesIO()
    job.poster.convert("RGB").save(buf, "JPEG", quality=85)
    return VideoResult(
        path=dst,
        content_type="video/mp4",
        width=w,
        height=h,
        duration_ms=min(duration_ms, declared_ms or duration_ms),
        has_audio=job.aout is not None,
        poster=buf.getvalue(),
        poster_content_type="image/jpeg",
        blurhash=image_blurhash(job.poster),
        source_width=src_w,
        source_height=src_h,
    )


def _probe(inp: Any, max_ms: int) -> tuple[Any, Any, int | None]:
    """The first video and audio streams and the declared duration, refused on the header's word."""
    if not inp.streams.video:
        raise MediaRejected("invalid", "the file has no video stream")
    vin = inp.streams.video[0]
    ain = inp.streams.audio[0] if inp.streams.audio else None
    src_w, src_h = vin.codec_context.width, vin.codec_context.height
    if not src_w or not src_h:
        raise MediaRejected("invalid", "the video stream has no picture size")
    if src_w * src_h > MAX_VIDEO_PIXELS:
        raise MediaRejected("too_large", f"the video is {src_w}×{src_h}; at most 8K")
    rate = vin.average_rate or vin.guessed_rate
    if rate and rate > MAX_VIDEO_FPS:
        raise MediaRejected("too_large", f"the video has {float(rate):.0f} frames a second; at most 120")
    declared_ms = _declared_ms(inp, vin)
    if declared_ms is not None and declared_ms > max_ms + VIDEO_TOLERANCE_MS:
        raise MediaRejected(
            "too_large", f"the video lasts {declared_ms / 1000:.1f} s; at most {max_ms // 1000} s"
        )
    return vin, ain, declared_ms


class _Job:
    """The output side of one transcode: the encoders, the timestamps and the poster."""

    def __init__(
        self,
        av: Any,
        out: Any,
        w: int,
        h: int,
        rate: Fraction,
        ain: Any,
        preset: str,
        crf: int,
        threads: int,
        max_ms: int,
    ) -> None:
        self.out, self.w, self.h, self.max_ms = out, w, h, max_ms
        self.vout = out.add_stream(
            "libx264", rate=rate, options={"preset": preset, "crf": str(crf), "threads": str(threads)}
        )
        self.vout.width, self.vout.height, self.vout.pix_fmt = w, h, "yuv420p"
        self.vout.codec_context.time_base = TIME_BASE
        self.aout: Any = None
        self.resampler: Any = None
        if ain is not None:
            sample_rate = ain.codec_context.sample_rate
            sample_rate = sample_rate if sample_rate in (44_100, 48_000) else 48_000
            self.aout = out.add_stream("aac", rate=sample_rate)
            self.aout.bit_rate = AUDIO_BITRATE
            self.aout.layout = "stereo"
            self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sample_rate)
        self.poster: Image.Image | None = None
        self.first_s: float | None = None
        self.last_pts = -1
        self.last_s = 0.0
        self.frames = 0

    def video(self, frame: Any) -> None:
        if frame.pts is None or frame.time_base is None:
            return
        t = float(frame.pts * frame.time_base)
        self.first_s = t if self.first_s is None else self.first_s
        t -= self.first_s
        if t * 1000 > self.max_ms + VIDEO_TOLERANCE_MS:
            raise MediaRejected("too_large", f"the video lasts over {self.max_ms // 1000} s")
        pts = round(t / TIME_BASE)
        if pts <= self.last_pts:
            return  # a duplicate or out-of-order timestamp: dropped, not muxed twice
        self.last_pts, self.last_s = pts, t
        scaled = frame.reformat(width=self.w, height=self.h, format="yuv420p")
        scaled.pts, scaled.time_base = pts, TIME_BASE
        if self.poster is None or t <= POSTER_AT_S:
            self.poster = scaled.to_image()  # the last frame at or before POSTER_AT_S
        self.out.mux(self.vout.encode(scaled))
        self.frames += 1

    def audio(self, frame: Any) -> None:
        frame.pts = None  # the resampler numbers its output samples itself
        for r in self.resampler.resample(frame):
            self.out.mux(self.aout.encode(r))

    def finish(self) -> None:
        if self.frames == 0 or self.poster is None:
            raise MediaRejected("invalid", "the video has no decodable frame")
        self.out.mux(self.vout.encode(None))
        if self.aout is not None:
            for r in self.resampler.resample(None):
                self.out.mux(self.aout.encode(r))
            self.out.mux(self.aout.encode(None))


def _declared_ms(inp: Any, vin: Any) -> int | None:
    if inp.duration:
        return int(inp.duration // 1000)  # AV_TIME_BASE: microseconds
    if vin.duration and vin.time_base:
        return int(vin.duration * vin.time_base * 1000)
    return None


def mp4_top_level_boxes(path: str | Path) -> list[str]:
    """The top-level box types of an MP4 in file order (``moov`` before ``mdat`` = faststart)."""
    boxes: list[str] = []
    with open(path, "rb") as f:
        size_total = os.fstat(f.fileno()).st_size
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            header = f.read(16)
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:
                size = size_total - pos
            if size < 8:
                break
            boxes.append(kind)
            pos += size
    return boxes
