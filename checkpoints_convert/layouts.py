"""Source layouts -> the official key names, one function per layout.

Every layout is brought to the official VideoMAE names (docs/numerics.md#checkpoint-layouts) in three groups:

* ``encoder``: the ViT as the official fine-tuning model names it (``patch_embed.proj.*``,
  ``blocks.{i}.*``, the final ``norm.*``; plus ``cls_token``/``pos_embed`` for CatMAE);
* ``classifier``: ``fc_norm.*`` and ``head.*``;
* ``decoder``: ``decoder.*``, ``encoder_to_decoder.weight``, ``mask_token``.

Tensors stay lazy (``LazyTensor``): renaming costs nothing, derived tensors (the
transformers q/k/v concatenation, CatMAE's kernel inflation) are computed only when
the converter reads them. Source tensors that have no place in a VideoMAE model are
put in ``ignored`` with the reason.
"""

import re
from dataclasses import dataclass, field

import numpy as np

from checkpoints_convert.errors import ConversionError
from checkpoints_convert.reader import LazyTensor

#: DDP / DeepSpeed wrappers, torch.compile, and Hub custom-code wrappers (``self.model``).
PREFIXES = ("module.", "_orig_mod.", "model.")


@dataclass
class Canonical:
    layout: str  # official | mmaction2 | transformers | catmae
    encoder: dict = field(default_factory=dict)
    classifier: dict = field(default_factory=dict)
    decoder: dict = field(default_factory=dict)
    ignored: dict = field(default_factory=dict)  # source key -> reason
    unknown: dict = field(default_factory=dict)  # keys no rule understood (-> unexpected)
    notes: list = field(default_factory=list)
    stored_tokens: int | None = None  # token count of a stored encoder position table
    slots: int | None = None  # temporal slots CatMAE's spatial table was repeated over

    @property
    def kind(self):
        """'pretrain' (has a decoder), 'finetune' (has a head) or 'encoder' (neither)."""
        if self.decoder:
            return "pretrain"
        if any(k.startswith("head.") for k in self.classifier):
            return "finetune"
        return "encoder"


def strip_prefixes(key):
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def detect_layout(keys):
    keys = list(keys)
    if any(k.startswith("videomae.") or k.startswith("decoder.decoder_layers.") for k in keys):
        return "transformers"
    if any(k.startswith("backbone.") or k.startswith("cls_head.") for k in keys):
        return "mmaction2"
    if "cls_token" in keys or "encoder.cls_token" in keys:
        return "catmae"
    return "official"


def sinusoid_check(tensor, reason_ok, reason_other):
    """The reason to ignore a stored fixed position table, after comparing it to the sinusoid."""
    from videomae_tf.models.layers import sinusoid_table

    shape = tensor.shape
    if len(shape) < 2:
        return reason_other
    table = sinusoid_table(shape[-2], shape[-1])
    stored = tensor.load().reshape(shape[-2], shape[-1])
    if np.allclose(stored, table, atol=1e-4):
        return reason_ok
    return reason_other


def _pos_embed_reason(key, tensor):
    return sinusoid_check(
        tensor,
        f"stored copy of the fixed sinusoid position table {tensor.shape}: the Keras model "
        f"computes it (for any token count), nothing to convert",
        f"stored position table {tensor.shape} that differs from the fixed sinusoid "
        f"(learned or interpolated); VideoMAE uses the fixed sinusoid, which the Keras model "
        f"computes, so it is ignored -- check your outputs if the source model really "
        f"learned its position embedding",
    )


def _route(canon, key, tensor):
    """Put an official-named tensor (encoder/decoder prefixes included) in its group."""
    if key.startswith("encoder.") and not key.startswith("encoder_to_decoder."):
        canon.encoder[key[len("encoder."):]] = tensor
    elif key.startswith("decoder.") or key.startswith("encoder_to_decoder.") or key == "mask_token":
        canon.decoder[key] = tensor
    elif key.startswith("fc_norm.") or key.startswith("head."):
        canon.classifier[key] = tensor
    else:
        canon.encoder[key] = tensor


def _handle_pos_embed(canon, key, tensor, original):
    if key in ("pos_embed", "encoder.pos_embed", "decoder.pos_embed",
               "videomae.embeddings.position_embeddings", "position_embeddings"):
        canon.ignored[original] = _pos_embed_reason(key, tensor)
        if not key.startswith("decoder.") and len(tensor.shape) >= 2:
            canon.stored_tokens = tensor.shape[-2]
        return True
    return False


# --- official V1 / V2 ------------------------------------------------------------------


def official(tensors):
    canon = Canonical("official")
    for original, tensor in tensors.items():
        key = strip_prefixes(original)
        if key.startswith("backbone."):  # the official loader strips it too
            key = key[len("backbone."):]
        if _handle_pos_embed(canon, key, tensor, original):
            continue
        _route(canon, key, tensor)
    return canon


# --- mmaction2 -------------------------------------------------------------------------

_MMACTION_RENAMES = [
    (re.compile(r"^patch_embed\.projection\."), "patch_embed.proj."),
    (re.compile(r"\.mlp\.layers\.0\.0\."), ".mlp.fc1."),
    (re.compile(r"\.mlp\.layers\.1\."), ".mlp.fc2."),
]


def mmaction2(tensors):
    canon = Canonical("mmaction2")
    for original, tensor in tensors.items():
        key = strip_prefixes(original)
        if key.startswith("data_preprocessor."):
            canon.ignored[original] = (
                "input normalisation constants of mmaction2's data preprocessor (the Keras "
                "model takes clips already normalised with the ImageNet mean/std)"
            )
            continue
        if key.startswith("cls_head.fc_cls."):
            canon.classifier["head." + key[len("cls_head.fc_cls."):]] = tensor
            continue
        if key.startswith("cls_head."):
            canon.unknown[original] = tensor
            continue
        if key.startswith("backbone."):
            key = key[len("backbone."):]
        for pattern, replacement in _MMACTION_RENAMES:
            key = pattern.sub(replacement, key)
        if _handle_pos_embed(canon, key, tensor, original):
            continue
        _route(canon, key, tensor)
    return canon


# --- Hugging Face transformers ---------------------------------------------------------

_HF_INNER = [
    ("attention.attention.q_bias", "attn.q_bias"),
    ("attention.attention.query.bias", "attn.q_bias"),
    ("attention.attention.v_bias", "attn.v_bias"),
    ("attention.attention.value.bias", "attn.v_bias"),
    ("attention.output.dense.", "attn.proj."),
    ("intermediate.dense.", "mlp.fc1."),
    ("output.dense.", "mlp.fc2."),
    ("layernorm_before.", "norm1."),
    ("layernorm_after.", "norm2."),
]
_HF_QKV = ("attention.attention.query.weight", "attention.attention.key.weight",
           "attention.attention.value.weight")


def _concat(parts, sources):
    shape = (sum(p.shape[0] for p in parts),) + parts[0].shape[1:]

    def load():
        return np.concatenate([p.load() for p in parts], axis=0)

    return LazyTensor(shape, load, sources, note="q, k, v weights concatenated")


def _hf_block(canon, prefix, index, inner, originals):
    """Rename the tensors of one transformers layer to official block names."""
    qkv = [inner.pop(name, None) for name in _HF_QKV]
    if all(part is not None for part in qkv):
        sources = tuple(originals[name] for name in _HF_QKV)
        canon_key = f"{prefix}blocks.{index}.attn.qkv.weight"
        _route(canon, canon_key, _concat(qkv, sources))
    else:
        for name, part in zip(_HF_QKV, qkv):
            if part is not None:
                canon.unknown[originals[name]] = part
    for name, tensor in inner.items():
        if name == "attention.attention.key.bias":
            canon.ignored[originals[name]] = (
                "key bias: adds the same amount to every score of a query, so softmax "
                "removes it exactly (VideoMAE has no k bias)"
            )
            continue
        for old, new in _HF_INNER:
            if name.startswith(old):
                _route(canon, f"{prefix}blocks.{index}.{new}{name[len(old):]}", tensor)
                break
        else:
            canon.unknown[originals[name]] = tensor


def transformers(tensors, pretraining):
    """transformers' VideoMAE names -> official names. ``pretraining``: the model has a decoder."""
    canon = Canonical("transformers")
    enc = "encoder." if pretraining else ""
    layers = {}  # (prefix, index) -> {inner name: tensor}
    originals = {}  # (prefix, index) -> {inner name: original key}
    for original, tensor in tensors.items():
        key = strip_prefixes(original)
        match = re.match(r"^videomae\.encoder\.layer\.(\d+)\.(.+)$", key)
        dmatch = re.match(r"^decoder\.decoder_layers\.(\d+)\.(.+)$", key)
        if match or dmatch:
            prefix = enc if match else "decoder."
            index, inner = (match or dmatch).groups()
            layers.setdefault((prefix, int(index)), {})[inner] = tensor
            originals.setdefault((prefix, int(index)), {})[inner] = original
            continue
        if _handle_pos_embed(canon, key, tensor, original):
            continue
        if key.startswith("videomae.embeddings.patch_embeddings.projection."):
            _route(canon, enc + "patch_embed.proj." + key.rsplit(".", 1)[1], tensor)
        elif key.startswith("videomae.layernorm."):
            _route(canon, enc + "norm." + key.rsplit(".", 1)[1], tensor)
        elif key.startswith("classifier."):
            _route(canon, "head." + key.rsplit(".", 1)[1], tensor)
        elif key.startswith("fc_norm.") or key in ("mask_token", "encoder_to_decoder.weight") \
                or key.startswith("decoder.norm.") or key.startswith("decoder.head."):
            _route(canon, key, tensor)
        else:
            canon.unknown[original] = tensor
    for (prefix, index), inner in sorted(layers.items()):
        _hf_block(canon, prefix, index, inner, originals[(prefix, index)])
    return canon


# --- CatMAE ----------------------------------------------------------------------------


def inflate_kernel(tensor, tubelet):
    """2-D patch kernel [D, C, p, p] -> [D, C, t, p, p]: repeated over time, divided by t."""
    d, c, ph, pw = tensor.shape

    def load():
        kernel = tensor.load()
        return np.repeat(kernel[:, :, None], tubelet, axis=2) / np.float32(tubelet)

    return LazyTensor((d, c, tubelet, ph, pw), load, tensor.sources,
                      note=f"2-D kernel inflated over a tubelet of {tubelet} (repeat, / {tubelet})")


def tile_positions(tensor, slots):
    """(1, 1 + M, D) CLS + spatial table -> (1, 1 + slots * M, D), time outermost."""
    _, rows, dim = tensor.shape

    def load():
        table = tensor.load().reshape(rows, dim)
        tiled = np.concatenate([table[:1], np.tile(table[1:], (slots, 1))], axis=0)
        return tiled[None]

    return LazyTensor((1, 1 + slots * (rows - 1), dim), load, tensor.sources,
                      note=f"spatial positions repeated over {slots} temporal slots, CLS row first")


def _split_qkv_bias(tensor):
    inner = tensor.shape[0] // 3

    def part(start):
        return LazyTensor((inner,), lambda: tensor.load()[start: start + inner], tensor.sources,
                          note="from qkv.bias")

    return part(0), part(2 * inner)


_CATMAE_DECODER = re.compile(r"^(decoder_|mask_token$|decoder\.)")


def catmae(tensors, tubelet, slots):
    """CatMAE (image ViT, 2-D patches, CLS token, 2-D sin-cos table) -> official names."""
    canon = Canonical("catmae", slots=slots)
    for original, tensor in tensors.items():
        key = strip_prefixes(original)
        if key.startswith("encoder."):
            key = key[len("encoder."):]
        if _CATMAE_DECODER.match(key):
            canon.ignored[original] = (
                "CatMAE's pretraining decoder (frame-conditioned cross-attention; no "
                "counterpart in a VideoMAE classifier)"
            )
            continue
        if key in ("patch_embed.proj.weight", "patch_embed.weight"):
            if len(tensor.shape) == 4:
                tensor = inflate_kernel(tensor, tubelet)
            elif len(tensor.shape) != 5:
                raise ConversionError(
                    f"CatMAE {original} has shape {tensor.shape}; expected a 2-D kernel "
                    f"[D, C, p, p] or an inflated one [D, C, t, p, p]"
                )
            canon.encoder["patch_embed.proj.weight"] = tensor
        elif key in ("patch_embed.proj.bias", "patch_embed.bias"):
            canon.encoder["patch_embed.proj.bias"] = tensor
        elif key == "pos_embed":
            if len(tensor.shape) != 3 or tensor.shape[0] != 1:
                raise ConversionError(f"CatMAE pos_embed has shape {tensor.shape}, expected (1, 1 + M, D)")
            canon.encoder["pos_embed"] = tile_positions(tensor, slots)
        elif re.match(r"^blocks\.\d+\.attn\.qkv\.bias$", key):
            q, v = _split_qkv_bias(tensor)
            base = key[: -len("qkv.bias")]
            canon.encoder[base + "q_bias"] = q
            canon.encoder[base + "v_bias"] = v
            canon.notes.append(
                "qkv.bias split into q_bias and v_bias; its k part is dropped (exact: a key "
                "bias shifts every score of a query by the same amount, softmax removes it)"
            )
        elif re.match(r"^blocks\.\d+\.ls[12]\.gamma$", key):
            canon.encoder[key.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2")] = tensor
        else:
            _route(canon, key, tensor)
    canon.notes = sorted(set(canon.notes))
    return canon


def canonicalize(source, tubelet=2, slots=8, layout=None):
    """A ``Source``'s tensors under official names, grouped (see ``Canonical``)."""
    stripped = [strip_prefixes(k) for k in source.tensors]
    layout = layout or ("transformers" if source.format == "transformers" else detect_layout(stripped))
    if layout == "transformers":
        pretraining = any(k.startswith("decoder.") or k == "mask_token" for k in stripped)
        canon = transformers(source.tensors, pretraining)
    elif layout == "mmaction2":
        canon = mmaction2(source.tensors)
    elif layout == "catmae":
        canon = catmae(source.tensors, tubelet, slots)
    elif layout == "official":
        canon = official(source.tensors)
    else:
        raise ConversionError(f"unknown layout {layout!r}")
    for key, reason in source.skipped.items():
        canon.ignored[key] = reason
    return canon
