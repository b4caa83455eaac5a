"""Checkpoint -> Keras model -> .weights.h5 (+ JSON sidecar), .keras, SavedModel.

The steps, each of which can stop the conversion before anything is written:

1. ``read_source``: open the file/folder safely and lazily (see ``reader``).
2. ``canonicalize``: bring its names to the official ones (see ``layouts``).
3. ``infer_config``: the model config from the shapes (see ``detect``), flags override.
4. ``assemble``: pair every Keras weight with a source tensor, under the official
   fine-tune rule when a pretrained encoder goes into a classifier. Every source tensor
   must be used or listed as deliberately ignored, every Keras weight must be set (or be
   one of the fresh fc_norm/head of that rule), every shape must match; otherwise a
   ``ConversionError`` lists the missing, unexpected and mismatched names with shapes.
5. Copy tensor by tensor (progress bar), freeing each source tensor after its copy.
6. Write every output to a temporary name beside it, rename when all are written.
"""

import hashlib
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from checkpoints_convert.detect import infer_config
from checkpoints_convert.errors import ConversionError, OutputError
from checkpoints_convert.layouts import canonicalize
from checkpoints_convert.reader import read_source

from videomae_tf import __version__  # the package has one version

TASKS = ("auto", "finetune", "pretrain")
FRESH_RULE = "freshly initialised (official fine-tune rule: a pretrained encoder gets a new fc_norm and head)"


@dataclass
class ConversionResult:
    """What a conversion produced and how every tensor was accounted for."""

    model: object
    config: dict
    task: str
    info: dict
    used: dict  # Keras key -> source keys it came from
    ignored: dict  # source key -> reason
    fresh: dict  # Keras key -> why it was not taken from the source
    notes: list
    params: int
    source_sha256: str | None = None
    outputs: list = field(default_factory=list)


# --- shapes ----------------------------------------------------------------------------


def keras_shape(key, torch_shape):
    """The Keras variable shape of a tensor with official ``key`` and PyTorch shape."""
    shape = tuple(torch_shape)
    if key.endswith(".weight") and len(shape) == 2:
        return shape[::-1]
    if key.endswith(".weight") and len(shape) == 5:
        return tuple(shape[i] for i in (2, 3, 4, 1, 0))
    return shape


def torch_shape(key, keras_shape_):
    shape = tuple(keras_shape_)
    if key.endswith(".weight") and len(shape) == 2:
        return shape[::-1]
    if key.endswith(".weight") and len(shape) == 5:
        return (shape[4], shape[3], shape[0], shape[1], shape[2])
    return shape


# --- pairing ---------------------------------------------------------------------------


def _sources(lazy):
    return ", ".join(lazy.sources) or "?"


def _listing(title, rows, limit=25):
    lines = [f"  {title} ({len(rows)}):"]
    lines += [f"    {row}" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"    ... and {len(rows) - limit} more")
    return lines


def check_task(canon, task):
    if task == "pretrain" and canon.kind != "pretrain":
        what = "a fine-tuned classifier" if canon.kind == "finetune" else "an encoder only"
        raise ConversionError(
            f"--task pretrain needs a pretraining checkpoint with its decoder "
            f"(decoder.*, encoder_to_decoder, mask_token), but the source is {what}; "
            f"convert it with --task finetune"
        )


def assemble(canon, task, targets):
    """Pair Keras keys with lazy source tensors: (plan, ignored, fresh).

    ``targets`` maps every official Keras key to its variable shape.
    """
    plan, fresh, unexpected = {}, {}, {}
    ignored = dict(canon.ignored)
    kind = canon.kind

    def ignore(lazy, reason):
        for key in lazy.sources:
            ignored[key] = reason

    if task == "pretrain":
        check_task(canon, task)
        plan.update({"encoder." + k: v for k, v in canon.encoder.items()})
        plan.update(canon.decoder)
        unexpected.update(canon.classifier)
    else:
        plan.update(canon.encoder)
        if kind == "finetune":
            plan.update(canon.classifier)
        else:
            for lazy in canon.decoder.values():
                ignore(lazy, "pretraining decoder: not part of a classifier")
            for key, lazy in canon.classifier.items():
                plan[key] = lazy
            if "fc_norm.weight" in targets:
                for key in ("norm.weight", "norm.bias"):
                    if key in plan:
                        ignore(plan.pop(key), "the pretrained encoder's final norm: unused with "
                               "mean pooling (official fine-tune rule; fc_norm starts fresh)")
        head_w, head_b = plan.get("head.weight"), plan.get("head.bias")
        if head_w is not None and "head.weight" in targets and len(head_w.shape) == 2 \
                and head_w.shape[1] != targets["head.weight"][0]:
            raise ConversionError(
                f"head.weight is {tuple(head_w.shape)} (classes, width): its input width "
                f"{head_w.shape[1]} is not the encoder's width {targets['head.weight'][0]}, so "
                f"the checkpoint does not hold one consistent model")
        mismatch = [
            (key, lazy) for key, lazy in (("head.weight", head_w), ("head.bias", head_b))
            if lazy is not None and key in targets and keras_shape(key, lazy.shape) != tuple(targets[key])
        ]
        if mismatch:
            for key in ("head.weight", "head.bias"):
                if key in plan:
                    lazy = plan.pop(key)
                    ignore(lazy, f"classifier head {lazy.shape} does not fit the {targets['head.bias'][0]} "
                                 f"classes asked for: dropped (official fine-tune rule)")
                    fresh[key] = f"freshly initialised for {targets['head.bias'][0]} classes"
    missing = []
    for key, shape in targets.items():
        if key in plan:
            continue
        if key in fresh:
            continue
        if task == "finetune" and kind != "finetune" and (key.startswith("fc_norm.") or key.startswith("head.")):
            fresh[key] = FRESH_RULE
            continue
        missing.append(f"{key}  expected {torch_shape(key, shape)} (PyTorch layout)")
    for key in list(plan):
        if key not in targets:
            unexpected[key] = plan.pop(key)
    for original, lazy in canon.unknown.items():
        unexpected[original] = lazy
    mismatched = []
    for key, lazy in plan.items():
        if keras_shape(key, lazy.shape) != tuple(targets[key]):
            mismatched.append(
                f"{key}: checkpoint {lazy.shape} (from {_sources(lazy)}), model expects "
                f"{torch_shape(key, targets[key])}"
            )
    if missing or unexpected or mismatched:
        lines = []
        if missing:
            lines += _listing("missing: Keras weights the checkpoint does not provide", missing)
        if unexpected:
            rows = [f"{k}  {v.shape}  (source key: {_sources(v)})" for k, v in sorted(unexpected.items())]
            lines += _listing("unexpected: checkpoint tensors with no Keras weight", rows)
        if mismatched:
            lines += _listing("shape mismatch", mismatched)
        raise ConversionError("\n".join(lines))
    return plan, ignored, fresh


# --- main entry ------------------------------------------------------------------------


#: Stored dtypes a weight may have (torch and safetensors names, lower case).
FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16", "f64", "f32", "f16", "bf16")


def check_weight_dtypes(tensors, used) -> None:
    """A ConversionError naming the first source tensor a weight is made from whose stored
    dtype is not floating point (integer or boolean tensors are not trained weights)."""
    for key, names in sorted(used.items()):
        for name in names:
            dtype = tensors[name].dtype if name in tensors else "float32"
            if dtype not in FLOAT_DTYPES:
                raise ConversionError(f"{name} is stored as {dtype}, but {key} is a trained "
                                      "weight: expected float32, float16 or bfloat16")


def sha256_of(paths):
    digests = {}
    for path in paths:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
        digests[str(path)] = h.hexdigest()
    return digests


def _check_outputs(output, keras_path, saved_model):
    if output is not None and not str(output).endswith(".weights.h5"):
        raise ConversionError(f"--output must end in .weights.h5, got {output}")
    if keras_path is not None and not str(keras_path).endswith(".keras"):
        raise ConversionError(f"--keras must end in .keras, got {keras_path}")
    from videomae_tf.models.saving import sidecar_path

    files = [(flag, Path(path)) for flag, path in (("--output", output), ("--keras", keras_path))
             if path is not None]
    if output is not None:
        files.append(("the sidecar of --output", sidecar_path(Path(output))))
    for flag, path in files:
        if path.is_dir():
            raise ConversionError(f"{flag} {path} is a folder; give a file name (nothing was "
                                  f"written or deleted)")
    if saved_model is not None:
        folder = Path(saved_model)
        if folder.exists() and not folder.is_dir():
            raise ConversionError(f"--saved-model {folder} exists and is not a folder")
        if folder.is_dir() and any(folder.iterdir()):
            raise ConversionError(f"--saved-model {folder} exists and is not empty; choose a new "
                                  f"folder (nothing was written or deleted)")


def _build(task, config):
    from videomae_tf.models import VideoMAEClassifier, VideoMAEPretrainer

    cls = VideoMAEClassifier if task == "finetune" else VideoMAEPretrainer
    try:
        return cls(**config)
    except (TypeError, ValueError) as error:
        raise ConversionError(f"cannot build a {cls.__name__} with {config}: {error}") from None


def _ignore_patterns(source, patterns):
    ignored = {}
    for pattern in patterns or ():
        regex = re.compile(pattern)
        for key in list(source.tensors):
            if regex.search(key):
                source.tensors.pop(key)
                ignored[key] = f"matches --ignore {pattern!r}"
    return ignored


def convert(source, output=None, *, keras_path=None, saved_model=None, arch="auto",
            num_frames=None, img_size=None, task="auto", num_classes=None, container=None,
            overrides=None, ignore=(), progress=True, log=print):
    """Convert a VideoMAE checkpoint to a Keras model; write the outputs asked for.

    Args:
        source: a .pth/.bin/.safetensors file or a transformers folder.
        output: ``*.weights.h5`` to write (with its JSON sidecar ``*.json``), or None.
        keras_path: ``*.keras`` to write, or None. saved_model: SavedModel folder, or None.
        arch: "auto" or a named architecture to check the checkpoint against.
        num_frames, img_size: the clip the Keras model takes (default: from the source,
            else 16 x 224); position tables are computed for it.
        task: "auto" (pretrain when the source has a decoder, else finetune),
            "finetune" or "pretrain".
        num_classes: classes of the classifier (a different count than the source's head
            drops that head, as the official fine-tune loader does).
        container: the key of the checkpoint dict holding the weights (default: 'model',
            'module', 'state_dict', else the top level).
        overrides: model options that win over the detected ones (e.g. {"num_heads": 2}).
        ignore: regexes of source keys to leave out deliberately.
        progress: show a progress bar. log: a print-like function for the summary, or None.

    Returns a ``ConversionResult`` (its ``model`` is the converted Keras model).
    Raises ``ConversionError``; then no output file exists.
    """
    if task not in TASKS:
        raise ConversionError(f"--task must be one of {TASKS}, got {task!r}")
    _check_outputs(output, keras_path, saved_model)
    overrides = dict(overrides or {})
    src = read_source(source, container)
    user_ignored = _ignore_patterns(src, ignore)
    frames_hint = num_frames if num_frames is not None else (
        (src.hf_config or {}).get("num_frames", 16))
    tubelet = int(overrides.get("tubelet_size", 2))
    canon = canonicalize(src, tubelet=tubelet, slots=max(1, int(frames_hint) // tubelet))
    canon.ignored.update(user_ignored)
    resolved_task = task if task != "auto" else ("pretrain" if canon.kind == "pretrain" else "finetune")
    check_task(canon, resolved_task)
    config, info = infer_config(canon, resolved_task, src.hf_config, arch, num_frames, img_size,
                                num_classes, overrides)
    if canon.layout == "catmae" and canon.slots and "pos_embed" in canon.encoder:
        slots = config["num_frames"] // config["tubelet_size"]
        if slots != canon.slots:  # flags changed the tubelet: redo the tiling
            canon = canonicalize(src, tubelet=config["tubelet_size"], slots=slots)
            canon.ignored.update(user_ignored)
    model = _build(resolved_task, config)

    from videomae_tf.models.naming import official_weights, to_keras_layout

    variables = official_weights(model)
    targets = {key: tuple(var.shape) for key, var in variables.items()}
    plan, ignored, fresh = assemble(canon, resolved_task, targets)
    used = {key: list(lazy.sources) for key, lazy in plan.items()}
    accounted = {s for srcs in used.values() for s in srcs} | set(ignored)
    leftover = sorted(set(src.tensors) - accounted)
    if leftover:  # every source tensor is used or deliberately ignored
        raise ConversionError(f"source tensors neither converted nor ignored: {leftover[:20]}")
    for key in ignored:  # ignored tensors are never read: let them go now
        if key in src.tensors:
            src.tensors[key].load = None
    check_weight_dtypes(src.tensors, used)

    from collections import Counter

    from tqdm import tqdm

    readers = Counter(name for lazy in plan.values() for name in lazy.sources)

    bar = tqdm(total=len(plan), desc="converting", unit="tensor", file=sys.stderr,
               disable=not progress, leave=False)
    try:
        for key in sorted(plan):
            lazy = plan.pop(key)
            array = to_keras_layout(key, lazy.load())
            if not np.isfinite(array).all():
                raise ConversionError(f"{key} (from {_sources(lazy)}) holds NaN or Inf values: "
                                      "not trained weights")
            variables[key].assign(np.ascontiguousarray(array, dtype=np.float32))
            del array
            for name in lazy.sources:  # free a source tensor once its last reader is done
                readers[name] -= 1
                if readers[name] == 0 and name in src.tensors:
                    src.tensors[name].load = None
            lazy.load = None
            bar.update(1)
    finally:
        bar.close()
    params = int(sum(np.prod(v.shape) for v in model.weights))

    digests = sha256_of(src.files)
    source_sha = next(iter(digests.values())) if len(digests) == 1 else None
    result = ConversionResult(model, config, resolved_task, info, used, ignored, fresh,
                              canon.notes, params, source_sha)
    metadata = dict(
        source=str(Path(source)),
        source_sha256=source_sha,
        source_files={Path(k).name: v for k, v in digests.items()},
        source_format=src.format,
        source_layout=canon.layout,
        source_container=src.container,
        source_task=canon.kind,
        arch=info["arch"],
        converter=f"checkpoints_convert {__version__}",
        ignored=ignored,
        fresh=fresh,
    )
    result.outputs = write_outputs(model, output, keras_path, saved_model, metadata)
    if log is not None:
        log(summary(src, canon, result))
    return result


# --- outputs ---------------------------------------------------------------------------


def _partial(path, suffix):
    path = Path(path)
    base = path.name[: -len(suffix)] if path.name.endswith(suffix) else path.name
    return path.with_name(f".{base}.partial-{os.getpid()}{suffix}")


def _remove(path):
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


def write_outputs(model, output, keras_path, saved_model, metadata):
    """Write to temporary names beside the targets, then rename them all."""
    from videomae_tf.models.saving import save_weights, sidecar_path

    staged = []
    try:
        if output is not None:
            output = Path(output)
            output.parent.mkdir(parents=True, exist_ok=True)
            tmp = _partial(output, ".weights.h5")
            staged.append((sidecar_path(tmp), sidecar_path(output)))
            staged.append((tmp, output))
            save_weights(model, tmp, **metadata)
        if keras_path is not None:
            keras_path = Path(keras_path)
            keras_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _partial(keras_path, ".keras")
            staged.append((tmp, keras_path))
            model.save(str(tmp))
        if saved_model is not None:
            from videomae_tf.export import export_saved_model

            saved_model = Path(saved_model)
            saved_model.parent.mkdir(parents=True, exist_ok=True)
            tmp = _partial(saved_model, "")
            staged.append((tmp, saved_model))
            export_saved_model(model, tmp)
    except Exception as error:
        for tmp, _ in staged:
            _remove(tmp)
        if isinstance(error, ConversionError):
            raise
        raise OutputError(f"writing the outputs failed ({type(error).__name__}: {error}); "
                          f"nothing was written") from error
    for tmp, final in staged:
        if Path(final).is_dir():  # an empty folder (checked before the conversion)
            Path(final).rmdir()
        os.replace(tmp, final)
    return [str(final) for _, final in staged]


# --- summary ---------------------------------------------------------------------------


def summary(src, canon, result):
    cfg, info = result.config, result.info
    grid = (cfg["num_frames"] // cfg["tubelet_size"],
            cfg["img_size"][0] // cfg["patch_size"], cfg["img_size"][1] // cfg["patch_size"])
    tokens = grid[0] * grid[1] * grid[2]
    kind = {"finetune": "fine-tuned classifier", "pretrain": "pretraining model (with decoder)",
            "encoder": "pretrained encoder only"}[canon.kind]
    container = f", container {src.container!r}" if src.container else ", top level"
    if src.format == "transformers":
        container = ""
    lines = [f"converted {src.path}"]
    lines.append(f"  source    : {src.format}{container}, {canon.layout} layout, {kind}")
    if src.other_entries:
        lines.append(f"              other entries not converted: {', '.join(src.other_entries[:10])}")
    desc = (f"{info['arch']}: width {cfg['embed_dim']}, depth {cfg['depth']}, heads {cfg['num_heads']}, "
            f"patch {cfg['patch_size']}, tubelet {cfg['tubelet_size']}, mlp ratio {cfg['mlp_ratio']:.4g}, "
            f"{cfg['num_frames']} frames x {cfg['img_size'][0]}x{cfg['img_size'][1]} ({tokens} tokens)")
    lines.append(f"  detected  : {desc}")
    if result.task == "finetune":
        pool = "mean pooling + fc_norm" if cfg["use_mean_pooling"] else "token 0 + norm"
        extra = ", CLS token + learned positions" if cfg.get("use_cls_token") else ""
        lines.append(f"  model     : VideoMAEClassifier, {cfg['num_classes']} classes "
                     f"(from {info.get('classes_from')}), {pool}{extra}")
    else:
        lines.append(f"  model     : VideoMAEPretrainer, decoder width {cfg['decoder_embed_dim']}, depth "
                     f"{cfg['decoder_depth']}, heads {cfg['decoder_num_heads']}, encoder norm "
                     f"{'on' if cfg['encoder_final_norm'] else 'off'}")
    n_used = len({s for srcs in result.used.values() for s in srcs})
    lines.append(f"  converted : {n_used} source tensors -> {len(result.used)} Keras weights "
                 f"({result.params:,} parameters in the model)")
    lines.append(f"  fresh     : {len(result.fresh)}" + (":" if result.fresh else ""))
    for key, why in sorted(result.fresh.items()):
        lines.append(f"      {key}: {why}")
    lines.append(f"  ignored   : {len(result.ignored)}" + (":" if result.ignored else ""))
    for key, why in sorted(result.ignored.items())[:40]:
        lines.append(f"      {key}: {why}")
    if len(result.ignored) > 40:
        lines.append(f"      ... and {len(result.ignored) - 40} more (all listed in the sidecar)")
    for note in result.notes:
        lines.append(f"  note      : {note}")
    if result.source_sha256:
        lines.append(f"  sha256    : {result.source_sha256}")
    for path in result.outputs:
        lines.append(f"  wrote     : {path}")
    return "\n".join(lines)
