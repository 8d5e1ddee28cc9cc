"""The media processing benchmark: seconds of processing per second of video, and images per second.

Sources are made here, at run time, with FFmpeg's ``testsrc2`` and ``sine`` sources (through PyAV, as the
tests make theirs: ``tests/support/media.py``): a 1080p and a 720p clip, 30 fps with AAC audio, H.264. Each
is processed by the production function (``actors.media_processing.process_video``: decode, scale to ≤ 720p,
libx264 + AAC, faststart, poster, blurhash) with the chosen preset (``PRESET``) and, in the same run, the
baselines:

- ``decode``: decoding every frame and nothing else (the floor no transcoder goes under);
- ``ultrafast``: the same pipeline with libx264's fastest preset (bigger files);
- ``medium``: libx264's default preset (smaller files, more CPU).

Reported per source and configuration: wall seconds of processing per second of video (``s_per_video_s``),
CPU seconds per second of video (all threads), the output's bitrate, and ratios to ``decode`` and to
``ultrafast``. Images: ``process_image`` (verify, orient, strip, re-encode, WebP thumbnail, blurhash) on a
12 MP and a 2 MP JPEG with EXIF, against Pillow's plain decode + thumbnail as the baseline (images/s).

Everything runs in this process (PyAV's codec threads end with each call): nothing is started, nothing is
left behind. Writes ``results/bench_media.json`` and ``results/bench_media.png``; the last line of stdout
is a JSON summary.

    python loadtest/bench_media.py [--seconds 15] [--repeat 1] [--images 20]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support.media: the tests' own source generator


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def decode_only(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "AUTO"
        frames = sum(1 for _ in c.decode(video=0))
    return frames


def measure(fn, repeat: int) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs and its CPU time."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        c0, t0 = cpu_s(), time.perf_counter()
        fn()
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        if wall < best[0]:
            best = (wall, cpu)
    return best


def bench_videos(work: Path, seconds: float, repeat: int) -> list[dict]:
    from support.media import make_video

    from actors.media_processing import PRESET, process_video

    rows = []
    for name, (w, h) in {"1080p": (1920, 1080), "720p": (1280, 720)}.items():
        t0 = time.perf_counter()
        src = make_video(work / f"src-{name}.mp4", w, h, seconds=seconds, fps=30)
        log(f"{name}: source made in {time.perf_counter() - t0:.1f} s ({src.stat().st_size / 1e6:.1f} MB)")
        configs: list[tuple[str, object]] = [("decode", lambda src=src: decode_only(src))]
        for preset in ("ultrafast", PRESET, "medium"):
            dst = work / f"out-{name}-{preset}.mp4"
            configs.append(
                (preset, lambda src=src, dst=dst, preset=preset: process_video(src, dst, preset=preset))
            )
        for config, fn in configs:
            wall, cpu = measure(fn, repeat)
            out = work / f"out-{name}-{config}.mp4"
            row = {
                "source": name,
                "config": config,
                "chosen": config == PRESET,
                "video_s": seconds,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu, 3),
                "s_per_video_s": round(wall / seconds, 4),
                "cpu_s_per_video_s": round(cpu / seconds, 4),
                "out_kbps": round(out.stat().st_size * 8 / seconds / 1000) if out.exists() else None,
            }
            rows.append(row)
            log(
                f"  {config:>10}: {row['s_per_video_s']:.3f} s/s wall, {row['cpu_s_per_video_s']:.3f} CPU s/s"
            )
        base = {r["config"]: r for r in rows if r["source"] == name}
        for r in rows:
            if r["source"] == name:
                r["x_decode"] = round(r["wall_s"] / base["decode"]["wall_s"], 2)
                r["x_ultrafast"] = round(r["wall_s"] / base["ultrafast"]["wall_s"], 2)
    return rows


def photo(width: int, height: int) -> bytes:
    """A camera-like JPEG: a detailed picture (noise over gradients), EXIF with GPS and orientation."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], axis=-1)
    noisy = np.clip(base + rng.normal(0, 18, base.shape), 0, 255).astype("uint8")
    img = Image.fromarray(noisy, "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def bench_images(count: int) -> list[dict]:
    from PIL import Image

    from actors.media_processing import THUMB_MAX, process_image

    def plain(data: bytes) -> None:
        img = Image.open(io.BytesIO(data))
        img.thumbnail((THUMB_MAX, THUMB_MAX))
        img.save(io.BytesIO(), "WEBP")

    rows = []
    for name, (w, h) in {"12MP": (4000, 3000), "2MP": (1920, 1080)}.items():
        data = photo(w, h)
        for config, fn in (("thumbnail_only", plain), ("process_image", process_image)):
            fn(data)  # warm-up
            wall, cpu = measure(lambda fn=fn, data=data: [fn(data) for _ in range(count)], 1)
            rows.append(
                {
                    "source": name,
                    "config": config,
                    "bytes": len(data),
                    "images_per_s": round(count / wall, 2),
                    "ms_per_image": round(wall / count * 1000, 1),
                    "cpu_ms_per_image": round(cpu / count * 1000, 1),
                }
            )
            log(f"{name} {config}: {rows[-1]['images_per_s']} images/s")
    return rows


def plot(result: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    configs = ["decode", "ultrafast", result["preset"], "medium"]
    sources = ["1080p", "720p"]
    width = 0.38
    for i, source in enumerate(sources):
        vals = [
            next(r["s_per_video_s"] for r in result["videos"] if r["source"] == source and r["config"] == c)
            for c in configs
        ]
        xs = [j + (i - 0.5) * width for j in range(len(configs))]
        bars = left.bar(xs, vals, width, label=f"{source} source")
        left.bar_label(bars, fmt="%.2f", fontsize=8)
    left.set_xticks(range(len(configs)), [f"{c}\n(chosen)" if c == result["preset"] else c for c in configs])
    left.set_ylabel("wall seconds per second of video")
    left.set_title("Video → 720p H.264/AAC (lower is better)")
    left.axhline(1.0, color="grey", lw=0.8, ls="--")
    left.legend()
    imgs = result["images"]
    labels = [f"{r['source']}\n{r['config']}" for r in imgs]
    bars = right.bar(labels, [r["images_per_s"] for r in imgs], color=["#999", "#1f77b4"] * 2)
    right.bar_label(bars, fmt="%.1f", fontsize=8)
    right.set_ylabel("images per second")
    right.set_title("Images: clean + thumbnail + blurhash vs thumbnail only")
    right.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"bench_media: {result['cpus']} CPUs, load {result['loadavg_start']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each source video")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (best kept)")
    parser.add_argument("--images", type=int, default=20, help="images per image configuration")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    import av

    from actors.media_processing import CRF, PRESET, THREADS

    started = time.time()
    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        videos = bench_videos(Path(tmp), args.seconds, args.repeat)
    images = bench_images(args.images)
    chosen = {r["source"]: r for r in videos if r["chosen"]}
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "cpus": os.cpu_count(),
        "threads": THREADS,
        "loadavg_start": load_start,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "av": av.__version__,
        "preset": PRESET,
        "crf": CRF,
        "seconds": args.seconds,
        "s_per_video_s_1080p": chosen["1080p"]["s_per_video_s"],
        "s_per_video_s_720p": chosen["720p"]["s_per_video_s"],
        "videos": videos,
        "images": images,
        "took_s": round(time.time() - started, 1),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "bench_media.json").write_text(json.dumps(result, indent=2) + "\n")
    result["plot"] = plot(result, args.results / "bench_media.png")
    print(json.dumps({k: v for k, v in result.items() if k not in ("videos", "images")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
