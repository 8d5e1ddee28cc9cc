"""The upload rules and the type sniffer (actors.domain.media): a file is what its first bytes say."""

from __future__ import annotations

import io
import zipfile

import pytest

from actors.domain.media import KINDS, MB, SNIFF_BYTES, content_refusal, sniff, upload_refusal


def zip_file() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    return buf.getvalue()


def ftyp(brand: bytes) -> bytes:
    return b"\x00\x00\x00\x20ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"mp41" + b"\x00" * 40


def ebml(doctype: bytes) -> bytes:
    return b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84" + doctype + b"\x42\x87\x81\x04"


@pytest.mark.parametrize(
    "head,expected",
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (ftyp(b"isom"), "video/mp4"),
        (ftyp(b"mp42"), "video/mp4"),
        (ftyp(b"avc1"), "video/mp4"),
        (ftyp(b"M4V "), "video/mp4"),
        (ftyp(b"qt  "), "video/quicktime"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "video/quicktime"),
        (ebml(b"webm"), "video/webm"),
        # refused: what is not on the list, whatever its name or header said
        (ebml(b"matroska"), None),  # MKV is not WebM
        (ftyp(b"heic"), None),
        (ftyp(b"avif"), None),
        (zip_file()[:SNIFF_BYTES], None),  # a zip renamed .png
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'>", None),
        (b"<!DOCTYPE html><script>", None),
        (b"%PDF-1.7", None),
        (b"BM\x00\x00", None),  # BMP
        (b"\x89PN", None),  # truncated
        (b"GIF8", None),
        (b"\xff\xd8", None),
        (b"", None),
        (b"\x00\x00\x00\x00moov", None),  # a box of size 0 is no QuickTime file
    ],
)
def test_sniff(head, expected):
    assert sniff(head) == expected


def test_every_accepted_type_is_sniffable():
    samples = {
        "image/jpeg": b"\xff\xd8\xff\xdb",
        "image/png": b"\x89PNG\r\n\x1a\n",
        "image/gif": b"GIF89a",
        "image/webp": b"RIFF\x00\x00\x00\x00WEBP",
        "video/mp4": ftyp(b"isom"),
        "video/webm": ebml(b"webm"),
        "video/quicktime": ftyp(b"qt  "),
    }
    accepted = {t for rule in KINDS.values() for t in rule.content_types}
    assert accepted == set(samples)
    for content_type, head in samples.items():
        assert sniff(head) == content_type


@pytest.mark.parametrize(
    "kind,content_type,size,code",
    [
        ("image", "image/png", 1, None),
        ("image", "image/png", 10 * MB, None),
        ("image", "image/png", 10 * MB + 1, "too_large"),
        ("video", "video/mp4", 100 * MB, None),
        ("video", "video/mp4", 100 * MB + 1, "too_large"),
        ("image", "image/jpg", 10, "invalid"),  # not a registered type: declare image/jpeg
        ("image", "video/mp4", 10, "invalid"),
        ("video", "image/png", 10, "invalid"),
        ("file", "application/pdf", 10, "invalid"),
        ("image", "image/png", 0, "invalid"),
    ],
)
def test_upload_refusal(kind, content_type, size, code):
    refusal = upload_refusal(kind, content_type, size)
    assert (refusal[0] if refusal else None) == code


def test_content_refusal():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56
    assert content_refusal("image/png", 100, 100, png) is None
    # Fewer bytes than declared: what arrived counts.
    assert content_refusal("image/png", 100, 64, png) is None
    assert "101 bytes were uploaded, 100 declared" in content_refusal("image/png", 100, 101, png)
    assert "empty" in content_refusal("image/png", 100, 0, b"")
    assert "image/png, not the declared image/jpeg" in content_refusal("image/jpeg", 100, 100, png)
    assert "not a supported" in content_refusal("image/png", 100, 100, zip_file()[:SNIFF_BYTES])
