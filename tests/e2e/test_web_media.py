"""Issue 21, point 7: media in the web client, in a real browser against the session's real stack (the
embedded SeaweedFS, the media worker).

Ann and Ben share a club room. Ann attaches real images (made here with Pillow) three ways — the "Attach
files" button, a drop on the room, a paste into the composer — each uploaded straight to object storage with
its presigned PUT, completed, processed; a refused file (not an image, or bytes that are not what their name
says) is said in words. Her message carries the ready images: Ben sees the thumbnails live (their box
reserved from width and height, the blurhash under them), opens the lightbox (Escape closes, focus goes back),
at 1280×800 and 390×844 with axe-core.

Then video (the "ffmpeg test source": a 3 s ``testsrc2`` MP4 made with PyAV): Ann posts it as a reel from the
club's page; Ben's feed has it in its Reels strip, where it plays muted by itself once in view (not when he
prefers reduced motion) and its play, watch and complete land in the interaction log. The same kind of video
attached in the room plays in the lightbox's <video controls>.
"""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from playwright.async_api import Page, expect
from support.chat import make_club_room
from support.media import make_video
from support.members import make_member
from support.wait import wait_for
from support.web import (
    PHONE,
    accessible_at_both_sizes,
    assert_accessible,
    log_in,
    messages,
    new_page,
    settled,
    shots,
)

DESKTOP = {"width": 1280, "height": 800}
# Uploads are processed off the request path: a video takes a few seconds on a busy 2-core machine.
PROCESSED_MS = 90_000


def image_bytes(width: int, height: int, fmt: str = "PNG", hue: int = 0) -> bytes:
    """A real picture: a colour gradient with a few shapes (so its blurhash and thumbnail are not flat)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height))
    px = img.load()
    for x in range(width):
        for y in range(height):
            px[x, y] = ((x * 255 // width + hue) % 256, (y * 255 // height), (128 + hue) % 256)
    draw = ImageDraw.Draw(img)
    draw.ellipse((width // 4, height // 4, width // 2, height // 2), fill=(255, 255, 255))
    draw.rectangle((width // 2, height // 2, width - 20, height - 20), fill=(20, 20, 60))
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return out.getvalue()


# A DataTransfer holding files given as (name, type, base64) — for a drop or a paste.
FILES_JS = """(files) => {
  const dt = new DataTransfer();
  for (const [name, type, b64] of files) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    dt.items.add(new File([bytes], name, { type }));
  }
  return dt;
}"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def drop_files(page: Page, files: list[tuple[str, str, bytes]]) -> None:
    """Drags files over the room and drops them on its message list, as a desktop would."""
    dt = await page.evaluate_handle(FILES_JS, [[n, t, b64(d)] for n, t, d in files])
    target = messages(page)
    await target.dispatch_event("dragenter", {"dataTransfer": dt})
    await target.dispatch_event("dragover", {"dataTransfer": dt})
    await expect(page.get_by_text("Drop images or videos to attach them")).to_be_visible()
    await target.dispatch_event("drop", {"dataTransfer": dt})
    await expect(page.get_by_text("Drop images or videos to attach them")).to_have_count(0)


async def paste_files(page: Page, files: list[tuple[str, str, bytes]]) -> None:
    """Pastes files into the composer (a copied picture, a screenshot)."""
    dt = await page.evaluate_handle(FILES_JS, [[n, t, b64(d)] for n, t, d in files])
    await page.evaluate(
        """(dt) => {
          const box = document.getElementById('composer');
          box.focus();
          box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
        }""",
        dt,
    )


def tray(page: Page):
    return page.get_by_role("list", name="Attachments")


async def ready_in_tray(page: Page, name: str) -> None:
    item = tray(page).get_by_role("listitem").filter(has_text=name)
    await expect(item).to_have_attribute("data-status", "ready", timeout=PROCESSED_MS)
    await expect(item).to_contain_text("Ready")


async def loaded(thumb) -> None:
    """The thumbnail's picture is in (served by the gateway to this member through the media cookie)."""
    img = thumb.locator("img")
    try:
        await expect(img).to_have_attribute("data-loaded", "true")
    except AssertionError:
        # Why not: what the gateway answers this page for the picture.
        why = await img.evaluate(
            """async i => {
              const r = await fetch(i.src, {credentials: 'same-origin'});
              const buf = new Uint8Array(await r.clone().arrayBuffer());
              const head = [...buf.slice(0, 16)].map(b => b.toString(16).padStart(2, '0')).join('');
              let decoded = 'ok';
              try { await createImageBitmap(await r.blob()); } catch (e) { decoded = String(e); }
              return `${i.src}: ${r.status} ${r.headers.get('content-type')} length=${buf.length}`
                + ` header-length=${r.headers.get('content-length')} head=${head} decode=${decoded}`
                + ` complete=${i.complete} natural=${i.naturalWidth}`;
            }"""
        )
        raise AssertionError(f"the thumbnail did not load: {why}") from None
    assert await img.evaluate("i => i.naturalWidth > 0 && i.complete"), "the thumbnail did not load"


@pytest.fixture(scope="module")
async def people(gateway, smtp):
    ann = await make_member(gateway.url, smtp, "Ann")
    ben = await make_member(gateway.url, smtp, "Ben")
    room = await make_club_room(ann.user_id, [ben.user_id])
    return {"ann": ann, "ben": ben, "room": room}


async def test_images_attached_three_ways_are_seen_by_another_member(browser, gateway, people, tmp_path):
    ann, ben, room = people["ann"], people["ben"], people["room"]
    photo = tmp_path / "club-night.png"
    photo.write_bytes(image_bytes(640, 400, "PNG"))
    ann_page = await new_page(browser, gateway)
    ben_page = await new_page(browser, gateway)
    try:
        for page, member in ((ann_page, ann), (ben_page, ben)):
            await page.goto("/login")
            await log_in(page, member.email)
            await page.goto(f"/clubs/{room.club_id}/rooms/{room.id}")
            await expect(page.get_by_role("textbox", name="Message")).to_be_visible()

        # 1. The "Attach files" button opens the file picker; the upload shows its progress, then is ready.
        progress: list[str] = []
        ann_page.on("request", lambda r: progress.append(f"{r.method} {r.url}"))
        async with ann_page.expect_file_chooser() as chooser:
            await ann_page.get_by_role("button", name="Attach files").click()
        await (await chooser.value).set_files(str(photo))
        await ready_in_tray(ann_page, "club-night.png")
        # Straight to object storage with the presigned PUT, then completed through the gateway.
        assert any(p.startswith("PUT ") and not p.startswith(f"PUT {gateway.url}") for p in progress), (
            progress
        )
        assert any(p.startswith("POST ") and p.endswith("/complete") for p in progress), progress
        await ann_page.get_by_role("textbox", name="Message").fill("Our club night")
        await ann_page.get_by_role("button", name="Send").click()
        await expect(tray(ann_page)).to_have_count(0)

        # Ben sees it live: a thumbnail whose box was reserved from the image's 640×400 before it loaded.
        article = messages(ben_page).get_by_role("article").filter(has_text="Our club night")
        thumb = article.get_by_role("button", name=re.compile("^Open image"))
        await expect(thumb).to_be_visible()
        await loaded(thumb)
        box = await thumb.bounding_box()
        assert box and abs(box["width"] / box["height"] - 640 / 400) < 0.03, box
        assert await thumb.locator("canvas").count() == 1  # the blurhash placeholder

        # 2. The lightbox: the full image, Escape closes it and gives focus back to the thumbnail.
        await thumb.click()
        lightbox = ben_page.get_by_role("dialog", name=re.compile("^Image from Ann"))
        await expect(lightbox).to_be_visible()
        full = lightbox.get_by_role("img", name=re.compile("^Image from Ann"))
        await expect(full).to_be_visible()
        await wait_for(lambda: full.evaluate("i => i.complete && i.naturalWidth === 640"), timeout=20)
        await expect(lightbox.get_by_role("button", name="Close")).to_be_focused()
        await ben_page.keyboard.press("Tab")  # focus stays inside the dialog
        assert await ben_page.evaluate("document.activeElement.closest('dialog') !== null")
        await shots(ben_page, "media-02-lightbox")
        await accessible_at_both_sizes(ben_page, "the image lightbox")
        await ben_page.keyboard.press("Escape")
        await expect(lightbox).to_have_count(0)
        await expect(thumb).to_be_focused()

        # 3. Refusals in words: a file that is no image or video (checked here), bytes that are not what the
        # name says (refused by the server after the upload: its own words are shown).
        await drop_files(ann_page, [("notes.txt", "text/plain", b"just some notes")])
        refused = tray(ann_page).get_by_role("listitem").filter(has_text="notes.txt")
        await expect(refused.get_by_role("alert")).to_contain_text(
            "notes.txt cannot be attached: only images"
        )
        await refused.get_by_role("button", name="Remove notes.txt").click()
        await expect(tray(ann_page)).to_have_count(0)
        await drop_files(ann_page, [("fake.png", "image/png", b"PK\x03\x04" + b"not a picture" * 40)])
        fake = tray(ann_page).get_by_role("listitem").filter(has_text="fake.png")
        await expect(fake.get_by_role("alert")).to_contain_text("fake.png was refused", timeout=PROCESSED_MS)
        await expect(fake.get_by_role("alert")).to_contain_text("not a supported image")
        await fake.get_by_role("button", name="Remove fake.png").click()

        # 4. A drop and a paste: two real images in one message without text.
        await drop_files(ann_page, [("beach.jpg", "image/jpeg", image_bytes(480, 640, "JPEG", hue=90))])
        await paste_files(ann_page, [("image.png", "image/png", image_bytes(300, 300, "PNG", hue=180))])
        await ready_in_tray(ann_page, "beach.jpg")
        await ready_in_tray(ann_page, "image.png")
        await shots(ann_page, "media-03-composer-ready")
        await ann_page.get_by_role("button", name="Send").click()
        pair = messages(ben_page).get_by_role("list", name="2 attachments")
        await expect(pair.get_by_role("button")).to_have_count(2)
        for i in range(2):
            await loaded(pair.get_by_role("button").nth(i))
        await shots(ben_page, "media-01-images-in-room")
        await accessible_at_both_sizes(ben_page, "a room with image attachments")

        # Arrow keys move between the message's images in the lightbox.
        await pair.get_by_role("button").first.click()
        lightbox = ben_page.get_by_role("dialog", name=re.compile(r"^Image, 1 of 2 from Ann"))
        await expect(lightbox).to_be_visible()
        await ben_page.keyboard.press("ArrowRight")
        await expect(ben_page.get_by_role("dialog", name=re.compile(r"^Image, 2 of 2"))).to_be_visible()
        await ben_page.keyboard.press("Escape")
        await expect(ben_page.get_by_role("dialog")).to_have_count(0)

        # After a reload the stored messages carry their attachments (history), on a phone too.
        await ben_page.set_viewport_size(PHONE)
        await ben_page.reload()
        await expect(messages(ben_page).get_by_role("list", name="2 attachments")).to_be_visible()
        await loaded(messages(ben_page).get_by_role("button", name=re.compile("^Open image")).last)
        width = await ben_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        await ben_page.set_viewport_size(DESKTOP)
        await settled(ben_page)
    finally:
        await ann_page.context.close()
        await ben_page.context.close()


async def test_a_generated_video_attached_in_the_room_plays_in_the_lightbox(
    browser, gateway, people, tmp_path
):
    """The "ffmpeg test source": a 3 s testsrc2 MP4 made with PyAV, attached, processed, played by another."""
    ann, ben, room = people["ann"], people["ben"], people["room"]
    clip = make_video(tmp_path / "dance.mp4", 360, 640, seconds=3.0, fps=24, faststart=True)
    ann_page = await new_page(browser, gateway)
    ben_page = await new_page(browser, gateway)
    try:
        for page, member in ((ann_page, ann), (ben_page, ben)):
            await page.goto("/login")
            await log_in(page, member.email)
            await page.goto(f"/clubs/{room.club_id}/rooms/{room.id}")
            await expect(page.get_by_role("textbox", name="Message")).to_be_visible()

        async with ann_page.expect_file_chooser() as chooser:
            await ann_page.get_by_role("button", name="Attach files").click()
        await (await chooser.value).set_files(str(clip))
        await ready_in_tray(ann_page, "dance.mp4")
        await ann_page.get_by_role("textbox", name="Message").fill("Video of the night")
        await ann_page.get_by_role("button", name="Send").click()

        video_thumb = (
            messages(ben_page)
            .get_by_role("article")
            .filter(has_text="Video of the night")
            .get_by_role("button", name=re.compile(r"^Play video \(0:03\)"))
        )
        await loaded(video_thumb)  # its poster frame
        box = await video_thumb.bounding_box()
        assert box and abs(box["width"] / box["height"] - 360 / 640) < 0.03, box
        await video_thumb.click()
        dialog = ben_page.get_by_role("dialog", name=re.compile(r"^Video \(0:03\) from Ann"))
        player = dialog.locator("video[controls]")
        await expect(player).to_be_visible()
        # Served by the gateway with Range (the browser asks for parts): it plays to its end.
        await wait_for(lambda: player.evaluate("v => v.readyState >= 2 && v.duration > 2.5"), timeout=20)
        await player.evaluate("v => { v.muted = true; return v.play(); }")
        await wait_for(lambda: player.evaluate("v => v.ended || v.currentTime > 2.5"), timeout=20)
        await shots(ben_page, "media-05-video-lightbox")
        await accessible_at_both_sizes(ben_page, "the video lightbox")
        await ben_page.keyboard.press("Escape")
        await expect(dialog).to_have_count(0)
        await expect(video_thumb).to_be_focused()
    finally:
        await ann_page.context.close()
        await ben_page.context.close()


async def test_a_video_posted_as_a_reel_plays_in_the_feed_and_is_logged(browser, gateway, people, tmp_path):
    """Needs the reels routes (``POST /clubs/{id}/reels``, reel feed items)."""
    from storage import mongo

    ann, ben, room = people["ann"], people["ben"], people["room"]
    clip = make_video(tmp_path / "dance.mp4", 360, 640, seconds=3.0, fps=24, faststart=True)
    ann_page = await new_page(browser, gateway)
    ben_page = await new_page(browser, gateway)
    try:
        await ann_page.goto("/login")
        await log_in(ann_page, ann.email)
        await ann_page.goto(f"/clubs/{room.club_id}/rooms/{room.id}")

        # Post a reel from the club's page: pick the video, it uploads and processes, a caption, post.
        await ann_page.get_by_role("button", name="Post a reel").click()
        dialog = ann_page.get_by_role("dialog", name=re.compile("^Post a reel"))
        await expect(dialog).to_be_visible()
        await dialog.get_by_label("Video").set_input_files(str(clip))
        item = dialog.get_by_role("list", name="Video upload").get_by_role("listitem")
        await expect(item).to_have_attribute("data-status", "ready", timeout=PROCESSED_MS)
        await dialog.get_by_label("Caption").fill("Our first dance")
        await assert_accessible(ann_page, "the Post a reel dialog")
        await dialog.get_by_role("button", name="Post reel").click()
        await expect(dialog.get_by_role("status")).to_contain_text("Your reel is posted")
        await dialog.get_by_role("button", name="Close").click()

        await ben_page.goto("/login")
        await log_in(ben_page, ben.email)

        # Ben's feed: the reel in its strip plays by itself, muted, once in view.
        sent: list[dict] = []

        def on_request(request):
            if request.url.endswith("/api/v1/interactions") and request.method == "POST":
                sent.extend(json.loads(request.post_data or "[]"))

        ben_page.on("request", on_request)
        reel = (
            ben_page.get_by_role("list", name="Reels")
            .get_by_role("listitem")
            .filter(has_text="Our first dance")
        )
        for _ in range(30):  # the feed ranks what is new within moments
            await ben_page.goto("/")
            await expect(ben_page.get_by_role("heading", name="For you")).to_be_visible()
            await expect(ben_page.get_by_text(re.compile(r"^Loading your feed"))).to_have_count(0)
            if await reel.count():
                break
            await ben_page.wait_for_timeout(1000)
        await expect(reel).to_be_visible()
        video = reel.locator("video")
        await wait_for(lambda: video.evaluate("v => !v.paused && v.muted && v.currentTime > 0"), timeout=20)
        await shots(ben_page, "media-04-reels-strip")
        await accessible_at_both_sizes(ben_page, "the feed with reels")
        await wait_for(lambda: video.evaluate("v => v.ended"), timeout=20)

        # play and complete (and the watched time) reach the interaction log, batched like the feed's.
        await ben_page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")

        async def logged():
            kinds = {i["kind"] for i in sent if i.get("item_type") == "reel"}
            return {"play", "complete"} <= kinds

        await wait_for(logged, timeout=30)
        watched = [i for i in sent if i.get("item_type") == "reel" and i["kind"] in ("watch", "complete")]
        assert all(isinstance(i.get("watch_ms"), int) for i in watched), watched
        coll = gateway.backends.stores.mongo[mongo.INTERACTIONS]

        async def stored():
            found = {d["kind"] async for d in coll.find({"user_id": ben.user_id, "source": "client"})}
            return found if {"play", "complete"} <= found else None

        await wait_for(stored, timeout=30)

        # Reduced motion: nothing plays by itself.
        calm = await browser.new_context(base_url=gateway.url, viewport=DESKTOP, reduced_motion="reduce")
        calm_page = await calm.new_page()
        try:
            await calm_page.goto("/login")
            await log_in(calm_page, ben.email)
            calm_reel = calm_page.get_by_role("list", name="Reels").get_by_role("listitem").first
            await expect(calm_reel).to_be_visible()
            await calm_page.wait_for_timeout(2000)
            assert await calm_reel.locator("video").evaluate("v => v.paused && v.currentTime === 0")
        finally:
            await calm.close()
    finally:
        await ann_page.context.close()
        await ben_page.context.close()
