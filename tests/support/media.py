"""Test media made at run time: videos from FFmpeg's ``testsrc2`` and ``sine`` sources (lavfi, in the ``av``
wheel: no file downloaded, nothing committed), and images from Pillow.

``make_video(path, width, height, seconds, fps)`` writes an H.264/AAC MP4 (ultrafast, so a 1080p source is
made in about a second); ``audio=False`` leaves the audio out, ``container="webm"`` writes VP9/Opus in WebM, ``"mov"`` QuickTime.
The benchmark (loadtest/bench_media.py) makes its sources with the same function.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path


def make_video(
    path: str | Path,
    width: int = 640,
    height: int = 360,
    seconds: float = 2.0,
    fps: int = 30,
    *,
    audio: bool = True,
    faststart: bool = False,
    container: str = "mp4",
) -> Path:
    """``container``: ``mp4`` (H.264/AAC), ``mov`` (QuickTime, H.264/AAC) or ``webm`` (VP9/Opus)."""
    import av

    path = Path(path)
    options = {"movflags": "+faststart"} if faststart else {}
    vcodec, vopts, acodec, alayout = "libx264", {"preset": "ultrafast", "crf": "28"}, "aac", "mono"
    if container == "webm":
        vcodec, vopts, acodec, alayout = (
            "libvpx-vp9",
            {"deadline": "realtime", "cpu-used": "8"},
            "libopus",
            "mono",
        )
    video_src = av.open(f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}", format="lavfi")
    audio_src = (
        av.open(f"sine=frequency=440:sample_rate=48000:duration={seconds}", format="lavfi") if audio else None
    )
    with av.open(str(path), "w", format=container, options=options) as out:
        vout = out.add_stream(vcodec, rate=fps, options=vopts)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        aout = out.add_stream(acodec, rate=48000) if audio_src else None
        if aout is not None:
            aout.layout = alayout
        for frame in video_src.decode(video=0):
            out.mux(vout.encode(frame.reformat(format="yuv420p")))
        out.mux(vout.encode(None))
        video_src.close()
        if audio_src is not None and aout is not None:
            fmt = "flt" if acodec == "libopus" else "fltp"
            resampler = av.AudioResampler(format=fmt, layout=alayout, rate=48000)
            for frame in audio_src.decode(audio=0):
                frame.pts = None
                for r in resampler.resample(frame):
                    out.mux(aout.encode(r))
            for r in resampler.resample(None):
                out.mux(aout.encode(r))
            out.mux(aout.encode(None))
            audio_src.close()
    return path


def probe(path: str | Path) -> dict:
    """What a player sees: codecs, size, pixel format, duration (s), frame count, audio or not."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        frames = sum(1 for _ in c.decode(video=0))
        return {
            "format": c.format.name,
            "video_codec": v.codec_context.name,
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "pix_fmt": v.codec_context.pix_fmt,
            "audio_codec": a.codec_context.name if a else None,
            "duration_s": float(c.duration / 1_000_000) if c.duration else None,
            "frames": frames,
            "rate": Fraction(v.average_rate) if v.average_rate else None,
        }


async def ready_media(
    http, member, data: bytes, content_type: str = "image/png", kind: str = "image", timeout: float = 90.0
) -> dict:
    """Upload through the public API as a browser would (presigned PUT straight to the object store,
    then complete) and wait until processing made it ready; ``GET /media/{id}``'s body."""
    import aiohttp
    import yarl

    from .wait import wait_for

    headers = {"Authorization": f"Bearer {member.token}"}
    resp = await http.post(
        "/api/v1/media/uploads",
        json={"kind": kind, "content_type": content_type, "size": len(data)},
        headers=headers,
    )
    body = await resp.json()
    assert resp.status == 201, body
    upload = body["upload"]
    async with (
        aiohttp.ClientSession() as s,
        s.put(yarl.URL(upload["url"], encoded=True), data=data, headers=upload["headers"]) as r,
    ):
        assert r.status == 200, await r.text()
    resp = await http.post(f"/api/v1/media/{body['media_id']}/complete", headers=headers)
    assert resp.status == 202, await resp.text()
    media_id = body["media_id"]

    async def ready():
        resp = await http.get(f"/api/v1/media/{media_id}", headers=headers)
        item = await resp.json()
        assert item["status"] != "failed", item
        return item if item["status"] == "ready" else None

    return await wait_for(ready, timeout=timeout, interval=0.2)


def image_bytes(width: int = 64, height: int = 48, fmt: str = "PNG") -> bytes:
    """A real image (a colour gradient) from Pillow."""
    import io

    from PIL import Image

    img = Image.new("RGB", (width, height))
    img.putdata([(x * 4 % 256, y * 5 % 256, 128) for y in range(height) for x in range(width)])
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()
