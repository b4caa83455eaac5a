"""Reading checkpoints safely and lazily: PyTorch .pth, safetensors, transformers folders.

Nothing here runs code from a checkpoint. PyTorch pickles go through
``torch.load(..., weights_only=True)``, PyTorch's restricted unpickler: it rebuilds
tensors and plain containers only and refuses every other global *before* calling it.
A few harmless training-metadata types that official checkpoints carry next to the
weights (``argparse.Namespace``, numpy scalars) are replaced by an inert stand-in that
only stores its arguments. safetensors files are parsed here (an 8-byte length, a JSON
header, raw data) and memory-mapped, so they need neither torch nor the safetensors
package.

Tensors are not materialised on reading: every entry is a ``LazyTensor`` that knows its
shape and produces a float32 numpy array on demand. Zip-format .pth files are opened
with ``mmap=True`` and safetensors with ``np.memmap``, so a checkpoint costs address
space, not RAM, until its tensors are read one by one.
"""

import json
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from checkpoints_convert.errors import ConversionError

TORCH_MISSING = (
    "reading PyTorch checkpoints (.pth/.bin) needs PyTorch, which is an optional extra: "
    "pip install 'videomae_tf[convert]' (a CPU-only wheel is enough: pip install torch "
    "--index-url https://download.pytorch.org/whl/cpu). safetensors files and transformers "
    "folders with model.safetensors need no torch."
)

# Containers the weights may sit in, in the order the official loaders try them.
CONTAINER_KEYS = ("model", "module", "state_dict", "model_state", "params")

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": None,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
    "BOOL": np.bool_,
}


@dataclass
class LazyTensor:
    """A tensor known by its shape, loaded (as float32 numpy, PyTorch layout) on demand."""

    shape: tuple
    load: Callable[[], np.ndarray]
    sources: tuple = ()  # the original source keys it is made from
    note: str = ""  # how it was derived, for the summary
    dtype: str = "float32"  # the stored dtype (what the source file says), before widening

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)


@dataclass
class Source:
    """What a checkpoint holds: its tensors (by original key) and where they came from."""

    path: Path
    format: str  # "torch-zip", "torch-legacy", "safetensors", "transformers"
    tensors: dict
    container: str | None = None
    other_entries: list = field(default_factory=list)  # top-level entries not converted
    skipped: dict = field(default_factory=dict)  # non-tensor entries of the state dict
    hf_config: dict | None = None
    files: list = field(default_factory=list)  # weight files (for the sha256)


def import_torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - exercised only without torch
        raise ConversionError(TORCH_MISSING) from error
    return torch


# --- file type -------------------------------------------------------------------------


def sniff(path):
    """The format of a file from its first bytes: torch-zip, torch-legacy, safetensors..."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if size == 0:
        raise ConversionError(f"{path} is empty")
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if not zipfile.is_zipfile(path):
            raise ConversionError(
                f"{path} looks like a zip-format PyTorch checkpoint but is corrupt or "
                f"truncated (no zip directory at its end); download it again"
            )
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
                raise ConversionError(
                    f"{path} is a zip archive but not a PyTorch checkpoint (no data.pkl "
                    f"inside; it holds {names[:5]})"
                )
            # torch does not check the CRCs (least of all with mmap): damaged tensor data
            # would load silently. One streaming pass over the file catches it.
            try:
                bad = archive.testzip()
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                bad = f"? ({error})"
            if bad is not None:
                raise ConversionError(
                    f"{path} is corrupt: record {bad} of the zip-format PyTorch checkpoint "
                    f"fails its CRC check; download it again"
                )
        return "torch-zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "torch-legacy"
    if len(head) >= 9 and head[8:9] == b"{":
        (header_size,) = struct.unpack("<Q", head[:8])
        if 0 < header_size <= size - 8:
            return "safetensors"
    if head.startswith(b"\x89HDF"):
        raise ConversionError(
            f"{path} is an HDF5 file (a Keras .weights.h5?), not a PyTorch checkpoint: "
            f"load it with videomae_tf.load_model() instead"
        )
    raise ConversionError(
        f"{path} is not a checkpoint this converter reads: expected a PyTorch .pth/.bin "
        f"(zip or legacy pickle), a .safetensors file, or a transformers folder with "
        f"config.json; its first bytes are {head[:8]!r}"
    )


# --- PyTorch ---------------------------------------------------------------------------


class _Inert:
    """Stand-in for harmless metadata objects (argparse.Namespace, numpy scalars).

    It only stores what the pickle hands it; it has no behaviour, so allowing it in the
    restricted unpickler cannot run anything.
    """

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return "<metadata object, not loaded>"


def _inert(*args, **kwargs):
    return _Inert()


_STANDINS = [
    (_Inert, "argparse.Namespace"),
    (_Inert, "numpy.dtype"),
    (_Inert, "numpy.ndarray"),
    (_inert, "numpy.core.multiarray.scalar"),
    (_inert, "numpy._core.multiarray.scalar"),
    (_inert, "numpy.core.multiarray._reconstruct"),
    (_inert, "numpy._core.multiarray._reconstruct"),
]


def _safe_torch_load(path, fmt):
    torch = import_torch()
    kwargs = dict(map_location="cpu", weights_only=True)
    if fmt == "torch-zip":
        kwargs["mmap"] = True
    try:
        with torch.serialization.safe_globals(_STANDINS):
            return torch.load(str(path), **kwargs)
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        text = str(error)
        if "Weights only load failed" in text or "Unsupported global" in text:
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
            culprit = found.group(1) if found else "a Python object that is not a tensor"
            raise ConversionError(
                f"refusing to load {path}: the pickle references {culprit}, which is not a "
                f"tensor or plain container. A checkpoint must not be able to run code, so it "
                f"is read with torch.load(weights_only=True), which stopped before calling "
                f"anything. If you trust the file, re-save only its weights "
                f"(torch.save(state_dict, ...)) and convert that."
            ) from None
        raise ConversionError(
            f"cannot read {path} as a PyTorch checkpoint ({type(error).__name__}: "
            f"{text.splitlines()[0] if text else ''}); the file is corrupt or truncated"
        ) from None


def _is_tensor(value):
    return type(value).__name__ in ("Tensor", "Parameter") and hasattr(value, "shape")


def _torch_lazy(tensor, key):
    def load(tensor=tensor):
        torch = import_torch()
        value = tensor.detach()
        if value.dtype != torch.float32:
            value = value.to(torch.float32)
        return value.numpy()

    return LazyTensor(tuple(tensor.shape), load, (key,), dtype=str(tensor.dtype).split(".")[-1])


def pick_state_dict(obj, path, container=None):
    """(state dict, container key or None, other top-level entries) of a loaded checkpoint."""
    if not isinstance(obj, dict):
        raise ConversionError(
            f"{path} holds a {type(obj).__name__}, not a dict of tensors (a state dict or a "
            f"training checkpoint with 'model'/'module'/'state_dict')"
        )
    if container is not None:
        if container not in obj or not isinstance(obj[container], dict):
            raise ConversionError(
                f"{path} has no weights under {container!r}; its top-level keys are "
                f"{sorted(map(str, obj))[:20]}"
            )
        return obj[container], container, sorted(str(k) for k in obj if k != container)
    for key in CONTAINER_KEYS:
        value = obj.get(key)
        if isinstance(value, dict) and any(_is_tensor(v) for v in value.values()):
            return value, key, sorted(str(k) for k in obj if k != key)
    if any(_is_tensor(v) for v in obj.values()):
        return obj, None, []
    raise ConversionError(
        f"{path} holds no tensors: none at its top level and none under "
        f"{', '.join(repr(k) for k in CONTAINER_KEYS)}; its top-level keys are "
        f"{sorted(map(str, obj))[:20]}"
    )


def read_torch(path, fmt, container=None):
    obj = _safe_torch_load(path, fmt)
    state, key, others = pick_state_dict(obj, path, container)
    tensors, skipped = {}, {}
    for name, value in state.items():
        name = str(name)
        if _is_tensor(value):
            tensors[name] = _torch_lazy(value, name)
        else:
            skipped[name] = f"not a tensor ({type(value).__name__})"
    return tensors, key, others, skipped


# --- safetensors -----------------------------------------------------------------------


def read_safetensors(path):
    """{key: LazyTensor} of a safetensors file, memory-mapped; bf16 is widened to float32."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ConversionError(f"{path} is too short to be a safetensors file")
        (header_size,) = struct.unpack("<Q", raw)
        if header_size > size - 8 or header_size > 100 * 2**20:
            raise ConversionError(f"{path}: corrupt safetensors header (size {header_size})")
        try:
            header = json.loads(f.read(header_size))
        except ValueError as error:
            raise ConversionError(f"{path}: corrupt safetensors header ({error})") from None
    base = 8 + header_size
    data = np.memmap(path, dtype=np.uint8, mode="r") if size > base else np.zeros(0, np.uint8)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _SAFETENSORS_DTYPES:
            raise ConversionError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        count = int(np.prod(shape, dtype=np.int64))
        width = 2 if dtype == "BF16" else np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
        if end - start != count * width or base + end > size:
            raise ConversionError(
                f"{path}: tensor {name} ({dtype} {shape}) does not fit the file; it is "
                f"corrupt or truncated"
            )

        def load(start=start, end=end, dtype=dtype, shape=shape):
            chunk = data[base + start: base + end]
            if dtype == "BF16":
                bits = chunk.view(np.uint16).astype(np.uint32) << 16
                return bits.view(np.float32).reshape(shape)
            return chunk.view(_SAFETENSORS_DTYPES[dtype]).reshape(shape).astype(np.float32, copy=False)

        tensors[name] = LazyTensor(tuple(shape), load, (name,), dtype=dtype.lower())
    return tensors


# --- entry point -----------------------------------------------------------------------

HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HF_INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def _read_file(path, container=None):
    fmt = sniff(path)
    if fmt == "safetensors":
        if container:
            raise ConversionError("--container applies to PyTorch pickles, not safetensors")
        return fmt, read_safetensors(path), None, [], {}
    tensors, key, others, skipped = read_torch(path, fmt, container)
    return fmt, tensors, key, others, skipped


def _read_folder(folder, container=None):
    config_file = folder / "config.json"
    if not config_file.exists():
        raise ConversionError(
            f"{folder} is a folder without config.json; a transformers VideoMAE folder "
            f"(save_pretrained) holds config.json and model.safetensors or pytorch_model.bin"
        )
    try:
        config = json.loads(config_file.read_text())
    except ValueError as error:
        raise ConversionError(f"{config_file} is not valid JSON: {error}") from None
    if config.get("model_type", "videomae") != "videomae":
        raise ConversionError(
            f"{config_file} describes a {config.get('model_type')!r} model; this converter "
            f"reads transformers VideoMAE folders (model_type 'videomae')"
        )
    files = []
    for index_name in HF_INDEX_FILES:
        index = folder / index_name
        if index.exists():
            weight_map = json.loads(index.read_text()).get("weight_map", {})
            files = [folder / name for name in sorted(set(weight_map.values()))]
            break
    else:
        for name in HF_WEIGHT_FILES:
            if (folder / name).exists():
                files = [folder / name]
                break
    if not files:
        raise ConversionError(
            f"{folder} has config.json but no weights: expected one of "
            f"{', '.join(HF_WEIGHT_FILES + HF_INDEX_FILES)}"
        )
    tensors, skipped = {}, {}
    for file in files:
        if not file.exists():
            raise ConversionError(f"{folder}: the index names {file.name}, which is missing")
        _, part, _, _, part_skipped = _read_file(file, container)
        tensors.update(part)
        skipped.update(part_skipped)
    return config, files, tensors, skipped


def read_source(path, container=None):
    """Open a checkpoint file or transformers folder as a ``Source`` (nothing loaded yet)."""
    path = Path(path)
    if not path.exists():
        raise ConversionError(f"no checkpoint at {path}")
    if path.is_dir():
        config, files, tensors, skipped = _read_folder(path, container)
        return Source(path, "transformers", tensors, hf_config=config, files=files,
                      skipped=skipped)
    fmt, tensors, key, others, skipped = _read_file(path, container)
    if not tensors:
        raise ConversionError(f"{path} holds no tensors")
    return Source(path, fmt, tensors, container=key, other_entries=others, skipped=skipped,
                  files=[path])
