"""actors/media_processing.py on real files made here: Pillow images with EXIF (GPS, orientation), XMP and
ICC; FFmpeg test-source videos (tests/support/media.py). No store, no Ray."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image, ImageCms
from support.media import make_video, probe

from actors.media_processing import (
    MAX_IMAGE_PIXELS,
    MediaRejected,
    fit_720p,
    image_blurhash,
    mp4_top_level_boxes,
    process_image,
    process_video,
)

BLURHASH_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _gradient(w: int, h: int, mode: str = "RGB") -> Image.Image:
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 255) // w, (y * 255) // h, 128) for y in range(h) for x in range(w)])
    return img.convert(mode)


def _jpeg_with_gps(orientation: int = 1, w: int = 200, h: int = 100) -> bytes:
    img = _gradient(w, h)
    # The left half red, so where it ends up shows the orientation was applied.
    img.paste((255, 0, 0), (0, 0, w // 2, h))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PhoneMaker"
    gps = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def test_jpeg_with_gps_comes_out_without_any_metadata():
    data = _jpeg_with_gps()
    before = Image.open(io.BytesIO(data)).getexif()
    assert before.get_ifd(0x8825), "the source really carries GPS"
    result = process_image(data)
    assert result.content_type == "image/jpeg" and result.ext == "jpg"
    out = Image.open(io.BytesIO(result.data))
    assert out.format == "JPEG"
    assert not out.getexif() and "exif" not in out.info
    assert b"GPS" not in result.data and b"PhoneMaker" not in result.data and b"Exif" not in result.data
    assert (result.width, result.height) == (200, 100)


def test_exif_orientation_is_applied_to_the_pixels():
    # 6: rotate 90° clockwise to display: the 200×100 image is shown 100×200, the red half on top.
    result = process_image(_jpeg_with_gps(orientation=6))
    out = Image.open(io.BytesIO(result.data)).convert("RGB")
    assert (result.width, result.height) == out.size == (100, 200)
    r, g, b = out.getpixel((50, 20))
    assert r > 200 and g < 60 and b < 60
    assert out.getpixel((50, 180))[2] > 100  # the gradient half (blue 128) at the bottom


def test_png_keeps_alpha_and_loses_text_chunks_and_icc():
    img = _gradient(64, 48, "RGBA")
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "secret-location")
    meta.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPSLatitude</x:xmpmeta>")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=meta, icc_profile=icc)
    result = process_image(out.getvalue())
    assert result.content_type == "image/png"
    clean = Image.open(io.BytesIO(result.data))
    assert clean.mode == "RGBA" and clean.size == (64, 48)
    assert b"secret-location" not in result.data and b"xmpmeta" not in result.data
    assert "icc_profile" not in clean.info and b"iCCP" not in result.data


def test_webp_and_its_thumbnail():
    out = io.BytesIO()
    _gradient(1600, 900).save(out, "WEBP", quality=80)
    result = process_image(out.getvalue())
    assert result.content_type == "image/webp"
    thumb = Image.open(io.BytesIO(result.thumbnail))
    assert thumb.format == "WEBP" and result.thumbnail_content_type == "image/webp"
    assert thumb.size == (480, 270)


def test_animated_gif_stays_animated_thumbnail_is_the_first_frame():
    frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"hi")
    result = process_image(out.getvalue())
    assert result.animated and result.content_type == "image/gif"
    gif = Image.open(io.BytesIO(result.data))
    assert gif.n_frames == 3 and "comment" not in gif.info
    thumb = Image.open(io.BytesIO(result.thumbnail)).convert("RGB")
    r, g, b = thumb.getpixel((5, 5))
    assert r > 200 and g < 60


def test_still_gif():
    out = io.BytesIO()
    _gradient(30, 20).save(out, "GIF")
    result = process_image(out.getvalue())
    assert not result.animated and (result.width, result.height) == (30, 20)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)  # a few bytes that would inflate to 30 GB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# Pillow warns between 1× and 2× its limit; that image is refused by the size check right after.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_fast():
    started = time.perf_counter()
    with pytest.raises(MediaRejected) as err:
        process_image(_png_header_only(100_000, 100_000))
    assert err.value.code == "too_large" and "megapixels" in err.value.message
    assert time.perf_counter() - started < 0.5
    just_over = int(MAX_IMAGE_PIXELS**0.5) + 1
    with pytest.raises(MediaRejected, match="megapixels"):
        process_image(_png_header_only(just_over, just_over))


def test_truncated_image_is_refused():
    data = _jpeg_with_gps(w=400, h=300)
    with pytest.raises(MediaRejected) as err:
        process_image(data[: len(data) // 2])
    assert err.value.code == "invalid" and "truncated" in err.value.message
    out = io.BytesIO()
    _gradient(300, 300).save(out, "PNG")
    with pytest.raises(MediaRejected):
        process_image(out.getvalue()[:-200])


def test_not_an_image_is_refused_whatever_its_name():
    zip_bytes = b"PK\x03\x04" + b"\x00" * 100  # a zip renamed .png
    with pytest.raises(MediaRejected, match="not a JPEG, PNG, WebP or GIF"):
        process_image(zip_bytes)
    with pytest.raises(MediaRejected):
        process_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)


def test_blurhash_shape_and_known_vector():
    result = process_image(_jpeg_with_gps())
    # 4×3 components: 1 size + 1 max-AC + 4 DC + 2 × 11 AC characters.
    assert len(result.blurhash) == 28 and set(result.blurhash) <= set(BLURHASH_CHARS)
    portrait = image_blurhash(_gradient(30, 60))
    assert len(portrait) == 28 and portrait[0] == BLURHASH_CHARS[(3 - 1) + (4 - 1) * 9]
    # A flat colour has no AC energy: the DC (4 characters after the first two) is the colour itself.
    flat = image_blurhash(Image.new("RGB", (32, 32), (255, 0, 0)))
    dc = sum(BLURHASH_CHARS.index(c) * 83 ** (3 - i) for i, c in enumerate(flat[2:6]))
    assert dc == 0xFF0000
    # Decoded, the hash of the gradient gives back the picture's colours at its corners.
    import blurhash

    pixels = blurhash.decode(result.blurhash, 20, 10)
    assert pixels[5][2][0] > 180 and pixels[5][2][1] < 90  # the red left half
    assert pixels[9][19][1] > 100  # green grows to the bottom right


def test_fit_720p_keeps_aspect_and_never_upscales():
    assert fit_720p(1920, 1080) == (1280, 720)
    assert fit_720p(1080, 1920) == (720, 1280)
    assert fit_720p(640, 360) == (640, 360)
    assert fit_720p(3840, 1080) == (1280, 360)
    assert fit_720p(1440, 1080) == (960, 720)


def test_1080p_video_becomes_720p_h264_aac_faststart_with_a_poster(tmp_path):
    src = make_video(tmp_path / "in.mp4", 1920, 1080, seconds=3, fps=30)
    assert mp4_top_level_boxes(src).index("moov") > mp4_top_level_boxes(src).index("mdat")
    result = process_video(src, tmp_path / "out.mp4")
    seen = probe(result.path)
    assert seen["video_codec"] == "h264" and seen["pix_fmt"] == "yuv420p" and seen["audio_codec"] == "aac"
    assert (seen["width"], seen["height"]) == (result.width, result.height) == (1280, 720)
    assert seen["frames"] == 90
    boxes = mp4_top_level_boxes(result.path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert 2900 <= result.duration_ms <= 3100 and result.has_audio
    poster = Image.open(io.BytesIO(result.poster))
    assert poster.format == "JPEG" and poster.size == (1280, 720)
    assert len(result.blurhash) == 28
    assert (result.source_width, result.source_height) == (1920, 1080)


@pytest.mark.parametrize("container", ["webm", "mov"])
def test_webm_and_quicktime_become_mp4_too(tmp_path, container):
    src = make_video(tmp_path / f"in.{container}", 854, 480, seconds=1, fps=15, container=container)
    result = process_video(src, tmp_path / "out.mp4")
    seen = probe(result.path)
    assert (seen["video_codec"], seen["audio_codec"], seen["pix_fmt"]) == ("h264", "aac", "yuv420p")
    assert (result.width, result.height) == (854, 480) and 900 <= result.duration_ms <= 1100


def test_video_without_audio(tmp_path):
    src = make_video(tmp_path / "in.mp4", 320, 240, seconds=1, fps=10, audio=False)
    result = process_video(src, tmp_path / "out.mp4")
    assert not result.has_audio and probe(result.path)["audio_codec"] is None
    assert (result.width, result.height) == (320, 240)


def test_video_over_60_seconds_is_refused(tmp_path):
    src = make_video(tmp_path / "long.mp4", 64, 48, seconds=61, fps=2, audio=False)
    started = time.perf_counter()
    with pytest.raises(MediaRejected) as err:
        process_video(src, tmp_path / "out.mp4")
    assert err.value.code == "too_large" and "60 s" in err.value.message
    assert time.perf_counter() - started < 2
    assert not (tmp_path / "out.mp4").exists()


def test_truncated_videos_are_refused(tmp_path):
    # moov at the end (as a camera writes it): cut short, the index is gone.
    src = make_video(tmp_path / "in.mp4", 320, 240, seconds=2, fps=15)
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaRejected) as err:
        process_video(cut, tmp_path / "out.mp4")
    assert err.value.code == "invalid"
    assert not (tmp_path / "out.mp4").exists()
    # moov first: the index survives, the frames do not.
    fast = make_video(tmp_path / "fast.mp4", 320, 240, seconds=4, fps=15, faststart=True)
    data = fast.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaRejected, match="truncated|decoded|decodable") as err:
        process_video(cut, tmp_path / "out2.mp4")
    assert err.value.code == "invalid"


def test_not_a_video_is_refused(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\nfile:///etc/passwd\n")
    with pytest.raises(MediaRejected, match="not an MP4"):
        process_video(path, tmp_path / "out.mp4")


def test_a_deadline_bounds_the_processing(tmp_path):
    src = make_video(tmp_path / "in.mp4", 640, 360, seconds=2, fps=30)
    with pytest.raises(MediaRejected, match="longer than"):
        process_video(src, tmp_path / "out.mp4", deadline_s=0.0)
