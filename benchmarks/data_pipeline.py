"""Fine-tuning input throughput: our tf.data pipeline vs. an official-style loader.

Clips are the official K400 fine-tuning views: 16 frames at sampling rate 4, the dense
train sampler, RandAugment rand-m7-n4-mstd0.5-inc1, random resized crop to 224, flip,
normalisation, random erasing 0.25, two augmented views per decoded video. Videos: the
shared H.264 files of Kinetics size (340x256 / 426x240).

The baseline loads the way the official PyTorch code (VideoMAE ``kinetics.py``) does, in
one process: ``decord.VideoReader(path, num_threads=1)``, ``get_batch`` of the sampled
indices, then per-frame work -- RandAugment applied frame by frame with one plan (the
official maps timm's PIL ops over the frame list: here the same PIL ops when Pillow is
installed, else our numpy/cv2 ops frame by frame), per-frame ``ToTensor`` to float, normalisation of the full-size float clip, torch
``interpolate`` for the random resized crop, flip and cube random erasing (torch and
Pillow: benchmark-only requirements; torch single-threaded, like one DataLoader worker).
OpenCV's own thread pool is set to one thread, so "1 decoder" means one core.

Ours: ``finetune_dataset`` with 1 and 2 (``--decoders``) parallel decode calls, and the
same per-video function in a plain Python thread pool. Reports clips/s, clips per
CPU-second (the per-core rate) and the ratios to the baseline. Writes JSON to
``benchmarks/results/data_pipeline.json`` or ``--output``. Takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from videomae_tf.data import sampling, transforms  # noqa: E402
from videomae_tf.data.annotations import VideoRecord  # noqa: E402
from _report import cpu_seconds, rate_row  # noqa: E402

VIDEOS = REPO.parent / "shared" / "data" / "videos"
NAMES = ("arm_wrestling_k400.mp4", "mmaction2_test.mp4", "flipping_pancake.mkv",
         "short_32_frames.mp4")
NUM_FRAMES, RATE, SIZE, NUM_SAMPLE = 16, 4, 224, 2
RAND_AUG = "rand-m7-n4-mstd0.5-inc1"
MEAN = np.array(transforms.IMAGENET_MEAN, np.float32)
STD = np.array(transforms.IMAGENET_STD, np.float32)


def measure(produce_views, seconds: float, warmup: int) -> dict:
    """Call ``produce_views()`` (returns how many views it made) for ``seconds``."""
    made = 0
    while made < warmup:
        made += produce_views()
    made, start, cpu = 0, time.perf_counter(), cpu_seconds()
    while time.perf_counter() - start < seconds:
        made += produce_views()
    wall, used = time.perf_counter() - start, cpu_seconds() - cpu
    return rate_row(made, wall, used)


# ---------------------------------------------------------------------------- baseline

def _pil_ops():
    """timm's RandAugment ops on PIL images (``auto_augment.py``), by op name."""
    from PIL import Image, ImageEnhance, ImageOps

    bicubic = {"resample": Image.BICUBIC, "fillcolor": (128, 128, 128)}

    def affine(img, matrix):
        return img.transform(img.size, Image.AFFINE, matrix, **bicubic)

    def solarize_add(img, add, thresh=128):
        lut = [min(255, i + add) if i < thresh else i for i in range(256)]
        return img.point(lut * 3)

    enhance = {name: (lambda cls: lambda img, f: cls(img).enhance(f))(getattr(ImageEnhance, name))
               for name in ("Color", "Contrast", "Brightness", "Sharpness")}
    ops = {
        "AutoContrast": ImageOps.autocontrast, "Equalize": ImageOps.equalize,
        "Invert": ImageOps.invert, "Rotate": lambda img, d: img.rotate(d, **bicubic),
        "Posterize": ImageOps.posterize, "Solarize": ImageOps.solarize,
        "SolarizeAdd": solarize_add,
        "ShearX": lambda img, f: affine(img, (1, f, 0, 0, 1, 0)),
        "ShearY": lambda img, f: affine(img, (1, 0, 0, f, 1, 0)),
        "TranslateXRel": lambda img, p: affine(img, (1, 0, p * img.size[0], 0, 1, 0)),
        "TranslateYRel": lambda img, p: affine(img, (1, 0, 0, 0, 1, p * img.size[1])),
        **enhance,
    }
    for name in list(ops):
        ops[name + "Increasing"] = ops[name]
    return ops


def _numpy_ops():
    """Fallback without PIL: the same ops from our transforms, applied frame by frame."""
    return {name: (lambda op: lambda img, *args: op(img[None], *args, fill=(128, 128, 128),
                                                    interpolation=3)[0])(op)
            for name, op in transforms.randaugment._NAME_TO_OP.items()}


def official_style_views(path: str, rng: np.random.Generator, torch, ops) -> list:
    """One decoded video -> NUM_SAMPLE views, the official way (see the module doc)."""
    import decord

    vr = decord.VideoReader(path, num_threads=1, ctx=decord.cpu(0))
    indices = sampling.dense_train_indices(len(vr), rng, NUM_FRAMES, RATE)
    vr.seek(0)
    buffer = vr.get_batch(indices).asnumpy()
    to_image = _to_pil if "PIL" in sys.modules else (lambda frame: frame)
    mean, std = torch.tensor(MEAN), torch.tensor(STD)
    views = []
    for _ in range(NUM_SAMPLE):
        plan = transforms.rand_augment_plan(rng, RAND_AUG)
        frames = []
        for frame in buffer:  # ToPILImage, then RandAugment maps over the frame list
            image = to_image(frame)
            for name, args in plan:
                image = ops[name](image, *args)
            # torchvision ToTensor: (C, H, W) float in [0, 1]
            frames.append(torch.from_numpy(np.asarray(image)).permute(2, 0, 1).float().div(255))
        clip = torch.stack(frames).permute(0, 2, 3, 1)  # T H W C
        clip = ((clip - mean) / std).permute(3, 0, 1, 2)  # tensor_normalize, then C T H W
        top, left, h, w = transforms.random_resized_crop_box(clip.shape[2], clip.shape[3], rng)
        clip = torch.nn.functional.interpolate(clip[:, :, top:top + h, left:left + w],
                                               size=(SIZE, SIZE), mode="bilinear",
                                               align_corners=False)
        if rng.random() < 0.5:
            clip = clip.flip(-1)
        clip = clip.permute(1, 0, 2, 3)  # RandomErasing(0.25, 'pixel', cube) on T C H W
        if rng.random() < 0.25:
            box = transforms.random_erasing_box(SIZE, SIZE, rng)
            if box is not None:
                t, l, bh, bw = box
                clip[:, :, t:t + bh, l:l + bw] = torch.empty(
                    (clip.shape[1], bh, bw)).normal_()
        views.append(clip.permute(0, 2, 3, 1).numpy())
    return views


def _to_pil(frame):
    from PIL import Image

    return Image.fromarray(frame)


# ------------------------------------------------------------------------------- ours

def ours_pipeline(records, parallel: int, seed: int):
    from videomae_tf.data.pipeline import finetune_dataset

    ds = finetune_dataset(records, num_frames=NUM_FRAMES, sampling_rate=RATE, crop_size=SIZE,
                          num_sample=NUM_SAMPLE, rand_aug=RAND_AUG, repeat=True, seed=seed,
                          num_parallel_calls=parallel, backend="decord")
    iterator = iter(ds)

    def produce():
        next(iterator)
        return 1

    return produce


def ours_thread_pool(records, parallel: int, seed: int):
    """The same per-video work in a Python ThreadPoolExecutor, no tf.data."""
    from videomae_tf.data.decoders import read_clip

    pool = ThreadPoolExecutor(parallel)
    counter = iter(range(10 ** 9))

    def one(k):
        rng = np.random.default_rng([seed, k])
        record = records[k % len(records)]
        frames, _ = read_clip(record.path, lambda n, fps: sampling.dense_train_indices(
            n, rng, NUM_FRAMES, RATE), backend="decord")
        return [transforms.finetune_train_transform(frames, rng, SIZE, RAND_AUG)
                for _ in range(NUM_SAMPLE)]

    def produce():
        jobs = [pool.submit(one, next(counter)) for _ in range(parallel * 2)]
        return sum(len(j.result()) for j in jobs)

    return produce


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "data_pipeline.json"))
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time per setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decoders", type=int, nargs="+", default=[1, 2],
                        help="parallel decode calls to measure (scaling with cores)")
    args = parser.parse_args(argv)
    if not VIDEOS.is_dir():
        print(f"skipped: shared test videos not found at {VIDEOS}")
        return {}
    records = [VideoRecord(str(VIDEOS / name), 0) for name in NAMES]
    import cv2
    import torch

    torch.set_num_threads(1)  # the official loader: one DataLoader worker = one core
    cv2.setNumThreads(1)  # and no hidden OpenCV thread pool on our side either
    try:
        ops, randaug_impl = _pil_ops(), "PIL per frame (timm ops)"
    except ImportError:
        ops, randaug_impl = _numpy_ops(), "numpy/cv2 per frame (PIL not installed)"

    load_before = os.getloadavg()
    results = {}
    rng = np.random.default_rng(args.seed)
    state = {"k": 0}

    def baseline():
        record = records[state["k"] % len(records)]
        state["k"] += 1
        return len(official_style_views(record.path, rng, torch, ops))

    print("baseline (official-style, 1 process) ...", flush=True)
    results["baseline_official_style"] = measure(baseline, args.seconds, warmup=4)
    for parallel in args.decoders:
        print(f"ours: tf.data, {parallel} parallel decode(s) ...", flush=True)
        results[f"ours_tfdata_{parallel}"] = measure(ours_pipeline(records, parallel, args.seed),
                                                     args.seconds, warmup=8)
    most = max(args.decoders)
    print(f"ours: thread pool, {most} threads ...", flush=True)
    results[f"ours_threadpool_{most}"] = measure(ours_thread_pool(records, most, args.seed),
                                                 args.seconds, warmup=8)

    base = results["baseline_official_style"]
    ratios = {}
    for key, value in results.items():
        if key != "baseline_official_style":
            ratios[key] = {
                "clips_per_s": round(value["clips_per_s"] / base["clips_per_s"], 2),
                "clips_per_cpu_s": round(value["clips_per_cpu_s"] / base["clips_per_cpu_s"], 2)}
    report = {
        "benchmark": "fine-tuning input pipeline, 16x224 clips, train augmentation, 2 views/video",
        "videos": list(NAMES),
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(),
                    # other processes compete for the cores when this is above ~0: the
                    # wall-clock rates (and scaling) suffer, clips per CPU-second much less
                    "load_average_1min_before_after": [round(load_before[0], 2),
                                                       round(os.getloadavg()[0], 2)]},
        "baseline_randaugment": randaug_impl,
        "results": results,
        "ratio_to_baseline": ratios,
        "scaling_vs_1_decoder": {
            f"{p}_decoders": round(results[f"ours_tfdata_{p}"]["clips_per_s"]
                                   / results[f"ours_tfdata_{args.decoders[0]}"]["clips_per_s"], 2)
            for p in args.decoders},
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
