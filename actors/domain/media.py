"""What media may be uploaded, and what a file really is: pure rules shared by the gateway's upload
actions and the media worker (no storage, no Ray).

The type of an upload is decided from its first bytes (magic numbers), never from its name or the
``Content-Type`` the client sent: a zip renamed ``.png`` is a zip. ``SNIFF_BYTES`` is enough for every
format below.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class KindRule:
    max_bytes: int
    content_types: tuple[str, ...]


# The contract: images up to 10 MB (JPEG, PNG, WebP, GIF); videos up to 100 MB (MP4, WebM, QuickTime)
# and 60 s (checked by processing, which decodes them).
KINDS: dict[str, KindRule] = {
    "image": KindRule(10 * MB, ("image/jpeg", "image/png", "image/webp", "image/gif")),
    "video": KindRule(100 * MB, ("video/mp4", "video/webm", "video/quicktime")),
}
MAX_VIDEO_MS = 60_000
SNIFF_BYTES = 64

# ISO base media (``ftyp`` box) major brands that mean QuickTime rather than MP4.
_QUICKTIME_BRANDS = {b"qt  "}
# Boxes a QuickTime file without ``ftyp`` (older encoders) may begin with.
_QUICKTIME_LEADING_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
# MP4 family major brands (ISO 14496-12/14, Apple's M4V, 3GPP): the container the worker can read.
_MP4_BRANDS_PREFIXES = (
    b"iso",
    b"mp4",
    b"avc",
    b"M4V",
    b"M4A",
    b"mmp4",
    b"dash",
    b"3gp",
    b"3g2",
    b"msnv",
    b"f4v",
)


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, among the accepted ones; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM, told apart by the DocType
        doctype = head.find(b"\x42\x82")
        if doctype != -1 and head[doctype + 3 : doctype + 7] == b"webm":
            return "video/webm"
        return None
    if len(head) >= 12:
        box = head[4:8]
        if box == b"ftyp":
            brand = head[8:12]
            if brand in _QUICKTIME_BRANDS:
                return "video/quicktime"
            if brand.startswith(_MP4_BRANDS_PREFIXES):
                return "video/mp4"
            return None  # HEIF/AVIF (heic, avif, mif1) and the rest: not accepted
        if box in _QUICKTIME_LEADING_BOXES and int.from_bytes(head[:4], "big") >= 8:
            return "video/quicktime"
    return None


def upload_refusal(kind: str, content_type: str, size: int) -> tuple[str, str] | None:
    """``(code, message)`` when a declared upload breaks the limits, else None."""
    rule = KINDS.get(kind)
    if rule is None:
        return "invalid", f"kind must be one of {', '.join(KINDS)}"
    if content_type not in rule.content_types:
        return (
            "invalid",
            f"{kind} uploads must be one of {', '.join(rule.content_types)}, not {content_type[:64]}",
        )
    if size < 1:
        return "invalid", "size must be at least 1 byte"
    if size > rule.max_bytes:
        return "too_large", f"{kind}s are at most {rule.max_bytes // MB} MB ({size} bytes declared)"
    return None


def content_refusal(declared_type: str, declared_size: int, real_size: int, head: bytes) -> str | None:
    """Why the uploaded bytes are refused (a message for the ``invalid`` code), or None when they are what
    was declared: no more bytes than declared, not empty, and the sniffed type is the declared one."""
    if real_size > declared_size:
        return f"{real_size} bytes were uploaded, {declared_size} declared"
    if real_size == 0:
        return "the upload is empty"
    found = sniff(head)
    if found is None:
        return f"the uploaded bytes are not a supported image or video (declared {declared_type})"
    if found != declared_type:
        return f"the uploaded bytes are {found}, not the declared {declared_type}"
    return None
