"""Pretrained folders and where they come from: ``save_pretrained``, ``from_pretrained``,
``push_to_hub``.

A pretrained folder of a classifier or backbone is in keras-hub's preset layout
(``videomae_tf.presets``: keras-hub loads it too); a pretraining or micro-action model's
holds ``config.json`` (model config, class names, source, metrics) and
``model.weights.h5``; both have ``labels.txt`` and a model card ``README.md``.
``from_pretrained`` takes either (or a ``.weights.h5``/``.keras`` file), an
``hf://org/repo[@revision]`` handle (fetched through huggingface_hub with its cache and
``HF_HUB_OFFLINE``; a transformers VideoMAE repo is converted once), a
``kaggle://owner/model/framework/variation[/version]`` handle (through kagglehub and its
cache) or a model-zoo name (the official checkpoint is downloaded once, checked against
its sha256, converted once and cached).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Sequence

from videomae_tf.errors import InputError
from videomae_tf.presets import BACKBONE_NAME
from videomae_tf.files import check_space, partial_path, replacing, write_text_atomic

__all__ = ["HF_PREFIX", "cache_dir", "from_pretrained", "push_to_hub", "resolve",
           "save_pretrained"]

HF_PREFIX = "hf://"
LABELS_FILE = "labels.txt"
CARD_FILE = "README.md"
#: The value of config.json's "format": how a videomae_tf folder is told from others.
FORMAT = "videomae_tf"
#: What a videomae_tf folder on the Hub holds (nothing else is downloaded for it).
_FOLDER_FILES = ["config.json", "model.weights.h5", LABELS_FILE, CARD_FILE]
#: A preset folder's files (keras-hub's layout, ``videomae_tf.presets``).
_PRESET_FILES = ["metadata.json", "task.json", "task.weights.h5", "videomae_tf.json"]


def cache_dir() -> Path:
    """Converted checkpoints: ``$VIDEOMAE_TF_CACHE``, else ``$XDG_CACHE_HOME/videomae_tf``,
    else ``~/.cache/videomae_tf``."""
    if os.environ.get("VIDEOMAE_TF_CACHE"):
        return Path(os.environ["VIDEOMAE_TF_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "videomae_tf"


def offline() -> bool:
    """``HF_HUB_OFFLINE`` is set: use caches only, never wait on the network."""
    from videomae_tf.config.overrides import parse_switch

    return parse_switch(os.environ.get("HF_HUB_OFFLINE", ""), "HF_HUB_OFFLINE")


# --- writing ------------------------------------------------------------------------


def save_pretrained(model, folder, *, class_names: Sequence[str] | None = None,
                    source: dict | str | None = None, metrics: dict | None = None) -> Path:
    """Write ``model`` as a pretrained folder, each file through a temporary name (other
    files in ``folder`` are left alone): a classifier or backbone in keras-hub's preset
    layout (``videomae_tf.presets``: config.json, metadata.json, model.weights.h5, the
    classifier's task.json and task.weights.h5, videomae_tf.json), other models as
    config.json + model.weights.h5; labels.txt and a model card README.md beside them.
    ``class_names`` default to ``model.class_names`` when set."""
    from videomae_tf import __version__
    from videomae_tf.models.saving import (FOLDER_CONFIG, FOLDER_WEIGHTS, model_config,
                                             weights_nbytes)
    from videomae_tf.presets import write_preset

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file: save_pretrained writes a folder")
    config = model_config(model)
    if class_names is None:
        class_names = getattr(model, "class_names", None)
    names = [str(n) for n in class_names] if class_names is not None else None
    if names is not None and config["task"] != "pretrain" and len(names) != config["num_classes"]:
        raise InputError(f"{len(names)} class names for a model with {config['num_classes']} "
                         "classes")
    document = {"format": FORMAT, "videomae_tf_version": __version__, "config": config,
                "class_names": names, "source": source, "metrics": dict(metrics or {})}
    folder.mkdir(parents=True, exist_ok=True)
    check_space(folder / FOLDER_WEIGHTS, weights_nbytes(model))
    if names is not None:
        write_text_atomic(folder / LABELS_FILE, "".join(f"{n}\n" for n in names))
    write_text_atomic(folder / CARD_FILE, model_card(document, model.count_params()))
    if config["task"] in ("finetune", "backbone"):  # keras-hub's layout (videomae_tf.presets)
        facts = {k: v for k, v in document.items() if k != "config"}
        write_preset(model, folder, dict(facts, task=config["task"]))
        return folder
    with replacing(folder / FOLDER_WEIGHTS) as tmp:
        model.save_weights(str(tmp))
    write_text_atomic(folder / FOLDER_CONFIG, json.dumps(document, indent=2, sort_keys=True))
    return folder


def model_card(document: dict, params: int) -> str:
    """The README.md of a pretrained folder: what the model is, what it takes, where it
    came from, how well it did, how to load it."""
    from videomae_tf.models.architectures import architecture_name

    config = document["config"]
    task = config["task"]
    encoder = config.get("backbone", config)  # a MicroActionModel keeps it apart
    arch = architecture_name(encoder) or "custom ViT"
    size = encoder["img_size"]
    height, width = (size, size) if isinstance(size, int) else size
    names = document.get("class_names")
    what = {"finetune": f"video classifier ({config.get('num_classes')} classes)",
            "pretrain": "masked autoencoder (pretraining model)",
            "backbone": "feature model (the encoder and its pooling, no head)",
            "micro_action": f"MA-52 micro-action model ({config.get('head')} head, "
                            f"{config.get('num_classes')} fine classes)"}[task]
    rows = [("architecture", f"{arch} (width {encoder['embed_dim']}, depth "
                             f"{encoder['depth']}, {encoder['num_heads']} heads), "
                             f"{_count(params)} parameters"),
            ("task", what),
            ("input", f"(batch, {encoder['num_frames']}, {height}, {width}, 3) RGB in [0, 1], "
                      "ImageNet mean/std normalised, channels-last"),
            ("classes", f"{len(names)} (labels.txt)" if names else "-"),
            ("source", _describe_source(document.get("source"))),
            ("saved by", f"videomae_tf {document.get('videomae_tf_version', '')}")]
    lines = ["---", "library_name: keras", "tags:", "- videomae", "- keras", "- video"]
    if task not in ("pretrain", "backbone"):
        lines += ["- video-classification", "pipeline_tag: video-classification"]
    lines += ["---", "", f"# VideoMAE {arch} {what}", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    metrics = document.get("metrics") or {}
    if metrics:
        lines += ["", "## Reported metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in metrics.items()]
    lines += ["", "## Use", "", "```python", "import videomae_tf", "",
              'model = videomae_tf.from_pretrained("hf://ORG/REPO")  # or this folder\'s path',
              "logits = model(clips)  # clips: (batch, frames, height, width, 3), normalised",
              "```", "", "Made with [videomae_tf](https://github.com/videomae-tf/videomae_tf), "
              "VideoMAE / VideoMAE V2 in Keras 3.", ""]
    return "\n".join(lines)


def _count(params: int) -> str:
    """86.5M, or the exact count of a model under a million parameters."""
    return f"{params / 1e6:.1f}M" if params >= 1_000_000 else f"{params:,}"


def _describe_source(source: Any) -> str:
    if not source:
        return "-"
    if isinstance(source, dict):
        return ", ".join(f"{k}: {v}" for k, v in source.items() if v)
    return str(source)


def push_to_hub(model, repo_id: str, *, class_names: Sequence[str] | None = None,
                source: dict | str | None = None, metrics: dict | None = None,
                private: bool = False, token: str | None = None,
                commit_message: str = "Upload VideoMAE model (videomae_tf)") -> str:
    """Save ``model`` as a pretrained folder and upload it to the Hugging Face repo
    ``repo_id`` (created when missing). Returns the commit URL."""
    from huggingface_hub import HfApi

    if offline():
        raise OSError(f"cannot push to {repo_id}: HF_HUB_OFFLINE is set")
    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="videomae_tf_push_") as tmp:
        save_pretrained(model, tmp, class_names=class_names, source=source, metrics=metrics)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=tmp,
                                   commit_message=commit_message)
    return str(getattr(commit, "commit_url", commit))


# --- reading ------------------------------------------------------------------------


def from_pretrained(source, *, checkpoint: str | os.PathLike | None = None,
                    dtype: str | None = None, **overrides):
    """A VideoMAE model from a pretrained folder or model file, ``hf://org/repo[@rev]`` or
    a zoo name (``checkpoint``: a zoo checkpoint you downloaded yourself). ``dtype`` is the
    Keras dtype policy to build it under (``"mixed_bfloat16"`` for bf16 inference, see
    ``models.load_model``). ``overrides`` change the config (e.g. ``num_frames=32``). The
    model's ``class_names`` are set from the folder (None when it has none)."""
    from videomae_tf.models.saving import load_model, stored_class_names

    path = resolve(source, checkpoint=checkpoint)
    model = load_model(path, dtype=dtype, **overrides)
    model.class_names = stored_class_names(path)
    return model


def resolve(source, *, checkpoint: str | os.PathLike | None = None) -> Path:
    """The local model file or pretrained folder for ``source`` (downloading/converting
    into the caches when needed); FileNotFoundError naming ``source`` otherwise."""
    text = os.fspath(source)
    if text.startswith(HF_PREFIX):
        return _from_hub(text)
    if text.startswith(KAGGLE_PREFIX):
        return _from_kaggle(text)
    if Path(text).exists():
        return Path(text)
    from videomae_tf.zoo import ZOO

    if text in ZOO:
        return _from_zoo(text, checkpoint)
    close = difflib.get_close_matches(text, list(ZOO), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else " (videomae-tf zoo lists them)"
    raise FileNotFoundError(f"{text}: no such file or folder, not an hf://org/repo handle, "
                            f"and not a zoo name{hint}")


def _hf_cache() -> str | None:
    """The Hub cache as the environment says now (huggingface_hub reads it at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def _snapshot(handle: str, repo_id: str, revision: str | None, patterns: list[str]) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)
    from videomae_tf import __version__

    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=_hf_cache(),
                                      local_files_only=offline(), allow_patterns=patterns,
                                      library_name="videomae_tf", library_version=__version__))
    except RepositoryNotFoundError:
        raise FileNotFoundError(f"{handle}: no such Hugging Face repo (a private or gated "
                                "one needs `hf auth login` or HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise FileNotFoundError(f"{handle}: the repo has no revision {revision!r}") from None
    except LocalEntryNotFoundError:
        where = _hf_cache() or "the default Hugging Face cache"
        why = ("HF_HUB_OFFLINE is set, so nothing is downloaded" if offline()
               else "and the Hub could not be reached")
        raise FileNotFoundError(f"{handle} is not in {where}: {why}") from None
    except HfHubHTTPError as e:
        raise OSError(f"{handle}: the Hub refused the download ({e})") from None


def _from_hub(handle: str) -> Path:
    repo_id, _, revision = handle[len(HF_PREFIX):].partition("@")
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        raise InputError(f"{handle}: expected hf://org/repo or hf://org/repo@revision")
    revision = revision or None
    snapshot = _snapshot(handle, repo_id, revision, ["config.json"])
    config_file = snapshot / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{handle} has no config.json: not a VideoMAE model repo")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{handle}: config.json is not valid JSON ({e})") from None
    if isinstance(config, dict) and config.get("format") == FORMAT:
        return _snapshot(handle, repo_id, revision, _FOLDER_FILES)
    if isinstance(config, dict) and config.get("registered_name") == BACKBONE_NAME:
        return _snapshot(handle, repo_id, revision, _FOLDER_FILES + _PRESET_FILES)
    if isinstance(config, dict) and config.get("model_type") == "videomae":
        snapshot = _transformers_snapshot(handle, repo_id, revision)
        names = _transformers_class_names(config)
        target = cache_dir() / "hub" / f"{repo_id.replace('/', '--')}--{snapshot.name}"
        return _convert_once(snapshot, target, {}, class_names=names,
                             source={"hf": handle, "commit": snapshot.name}, metrics=None)
    raise InputError(f"{handle}: config.json is neither a videomae_tf folder's nor a "
                     "transformers VideoMAE model's (model_type 'videomae')")


KAGGLE_PREFIX = "kaggle://"


def _from_kaggle(handle: str) -> Path:
    """The local folder of ``kaggle://owner/model/framework/variation[/version]``, through
    kagglehub's cache: a cached version is used without the network; an unversioned handle
    asks Kaggle for the newest version, or (``HF_HUB_OFFLINE``: caches only) takes the
    newest cached one."""
    parts = handle[len(KAGGLE_PREFIX):].strip("/").split("/")
    if len(parts) not in (4, 5) or not all(parts) or (
            len(parts) == 5 and not (parts[4].isdigit() and int(parts[4]) >= 1)):
        raise InputError(f"{handle}: expected kaggle://owner/model/framework/variation"
                         "[/version]")
    try:
        import kagglehub
        from kagglehub.cache import Cache, get_cached_path
        from kagglehub.handle import parse_model_handle
    except ImportError:
        raise InputError(f"{handle}: kaggle:// handles need kagglehub (pip install "
                         "kagglehub)") from None
    model = parse_model_handle("/".join(parts))
    versions = Path(get_cached_path(model.with_version(1))).parent  # .../variation/
    if model.is_versioned():
        candidates = [model]
    elif offline():  # the cached versions, newest first
        numbers = sorted((int(p.name) for p in versions.glob("*") if p.name.isdigit()),
                         reverse=True)
        candidates = [model.with_version(n) for n in numbers]
    else:
        candidates = []  # kagglehub asks Kaggle which version is the newest
    for candidate in candidates:
        cached = Cache().load_from_cache(candidate)
        if cached:
            return Path(cached)
    if offline():
        raise FileNotFoundError(f"{handle} is not in kagglehub's cache ({versions}): "
                                "HF_HUB_OFFLINE is set, so nothing is downloaded")
    try:
        return Path(kagglehub.model_download("/".join(parts)))
    except Exception as e:  # noqa: BLE001 - kagglehub's errors: network, auth, not found
        first = str(e).splitlines()[0] if str(e) else ""
        raise FileNotFoundError(f"{handle}: kagglehub could not get it "
                                f"({type(e).__name__}: {first})") from None


def _transformers_snapshot(handle: str, repo_id: str, revision: str | None) -> Path:
    """A transformers repo's config and weights: safetensors when it has them, else the
    PyTorch pickle (read safely by the converter)."""
    snapshot = _snapshot(handle, repo_id, revision, ["config.json", "*.safetensors",
                                                     "*.safetensors.index.json"])
    if not any(snapshot.glob("*.safetensors")):
        snapshot = _snapshot(handle, repo_id, revision, ["config.json", "pytorch_model*"])
    return snapshot


def _transformers_class_names(config: dict) -> list[str] | None:
    id2label = config.get("id2label") or {}
    try:
        names = [id2label[str(i)] for i in range(len(id2label))]
    except KeyError:
        return None
    return names if names and not all(n == f"LABEL_{i}" for i, n in enumerate(names)) else None


def _from_zoo(name: str, checkpoint) -> Path:
    from videomae_tf.zoo import ZOO

    entry = ZOO[name]
    target = cache_dir() / "zoo" / name
    if (target / "config.json").is_file():
        return target
    if checkpoint is not None:
        source_file = Path(checkpoint)
        if not source_file.exists():
            raise FileNotFoundError(f"checkpoint for zoo model {name} not found: {source_file}")
        _check_sha256(source_file, entry.sha256, name)
    elif entry.hf_repo:
        source_file = _transformers_snapshot(f"{HF_PREFIX}{entry.hf_repo}", entry.hf_repo, None)
    else:
        source_file = _download(entry)
    class_names = None
    if entry.labels:
        from videomae_tf.data.annotations import load_label_map

        class_names = load_label_map(entry.labels)
    options = dict(num_frames=entry.frames, img_size=entry.img_size) if entry.frames else {}
    options.update(entry.convert_options)
    folder = _convert_once(source_file, target, options, class_names=class_names,
                           source={"zoo": name, "page": entry.page,
                                   "download": entry.hf_repo or entry.download,
                                   "sha256": None if source_file.is_dir() else _sha256(source_file)},
                           metrics=entry.metrics())
    if checkpoint is None and not entry.hf_repo:
        source_file.unlink()  # our download; the converted folder now stands for it
    return folder


def _convert_once(checkpoint: Path, target: Path, options: dict, *,
                  class_names: list[str] | None, source: dict, metrics: dict | None) -> Path:
    """Convert ``source`` into the pretrained folder ``target`` (built beside it, renamed
    into place when complete); an existing ``target`` is returned as it is."""
    if (target / "config.json").is_file():
        return target
    from checkpoints_convert import convert

    print(f"videomae_tf: converting {checkpoint} -> {target}", file=sys.stderr, flush=True)
    result = convert(checkpoint, None, log=None, **options)
    staging = partial_path(target)
    shutil.rmtree(staging, ignore_errors=True)  # our own leftover from a failed attempt
    names = class_names
    if names is not None and result.task == "finetune" and len(names) != result.config.get(
            "num_classes"):
        names = None
    save_pretrained(result.model, staging, class_names=names, source=source, metrics=metrics)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path: Path, expected: str | None, name: str) -> None:
    """Refuse a file whose sha256 does not start with the zoo's (full or a prefix)."""
    if not expected:
        return
    actual = _sha256(path)
    if not actual.startswith(expected.lower()):
        raise InputError(f"{path}: sha256 {actual} does not match zoo model {name}'s "
                         f"{expected}: a damaged or different file")


def _download(entry) -> Path:
    """The zoo checkpoint, downloaded into the cache (resumed never; verified always)."""
    url = entry.download
    if url is None:
        raise FileNotFoundError(f"zoo model {entry.name} has no public download ({entry.page}): "
                                f"get the checkpoint, then from_pretrained({entry.name!r}, "
                                "checkpoint=PATH)")
    if entry.how_fetched() == "by hand":
        host = urllib.parse.urlparse(url).netloc
        raise FileNotFoundError(f"zoo model {entry.name} is on {host}, which needs a browser: "
                                f"download {url} by hand, then from_pretrained({entry.name!r}, "
                                "checkpoint=PATH)")
    if offline():
        raise FileNotFoundError(f"zoo model {entry.name} is not in the cache "
                                f"({cache_dir() / 'zoo'}) and HF_HUB_OFFLINE is set, so "
                                "nothing is downloaded")
    from videomae_tf.evaluation.progress import progress_bar

    name = Path(urllib.parse.urlparse(url).path).name or entry.name
    dest = cache_dir() / "downloads" / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, replacing(dest) as tmp:
            total = int(response.headers.get("Content-Length") or 0) or None
            with open(tmp, "wb") as out, progress_bar(total, f"download {entry.name}",
                                                      unit="B") as bar:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
    except OSError as e:
        raise OSError(f"downloading zoo model {entry.name} from {url} failed: {e}") from None
    try:
        _check_sha256(dest, entry.sha256, entry.name)
    except ValueError:
        dest.unlink()  # ours, and wrong
        raise
    return dest
