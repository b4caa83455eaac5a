"""Masked-reconstruction pictures: what a pretrained VideoMAE sees and what it fills in.

``visualize(video, weights, output_dir)`` reads a clip, hides tokens with a tube mask,
lets the masked autoencoder predict them and writes

* ``<name>_reconstruction.png``: a titled picture (video name, mask kind and ratio, loss),
  rows original / masked input (hidden patches grey) / reconstruction (and optionally
  the error), named on the left, one labelled column per frame (at most 8, evenly
  spaced), tiny frames enlarged (nearest) to a legible size;
* ``<name>_reconstruction.gif``: the same layout, one frame at a time.

The same pieces (``reconstruct_clip``, ``reconstruction_figures``) draw the picture that
pretraining logs to TensorBoard.

Predictions are put back as the official ``run_videomae_vis.py`` does (docs/numerics.md#targets): with the
normalised target (the official default) every predicted patch gets the ORIGINAL
patch's statistics back, per channel: pixel = pred * (sqrt(unbiased var) + 1e-6) + mean;
with ``normalize_target=False`` the prediction is the [0, 1] pixel itself. Visible
patches show the original pixels. The numpy pieces (``patchify``, ``unpatchify``,
``reconstruct_video``, ``frame_grid``, ``labelled_figure``) are usable on their own;
``patchify`` and ``patch_statistics`` are the model's own, returned as numpy.

GIFs are written with OpenCV's animation writer (``cv2.imwriteanimation``, OpenCV >= 4.11,
already a dependency) and, where that is missing, with Pillow if it is installed.
"""

from pathlib import Path

import cv2
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf import files
from videomae_tf.data.transforms.normalization import IMAGENET_MEAN, IMAGENET_STD


# ----------------------------------------------------------------------- numpy pieces

def patchify(video, patch_size, tubelet_size):
    """(B, T, H, W, C) -> (B, N, tubelet * p * p, C) as numpy: the model's ``patchify``
    (token order (t, h, w), values (t_in, y_in, x_in) within a patch)."""
    from videomae_tf.models import pretrainer

    return np.asarray(pretrainer.patchify(video, patch_size, tubelet_size))


def unpatchify(patches, grid, patch_size, tubelet_size):
    """The inverse of ``patchify``: (B, N, tubelet * p * p, C) -> (B, T, H, W, C)."""
    b, c = patches.shape[0], patches.shape[-1]
    tt, hh, ww = grid
    p, s = patch_size, tubelet_size
    x = patches.reshape(b, tt, hh, ww, s, p, p, c)
    x = x.transpose(0, 1, 4, 2, 5, 3, 6, 7)
    return x.reshape(b, tt * s, hh * p, ww * p, c)


def patch_statistics(patches):
    """The model's ``patch_statistics`` as numpy: (mean, std), each (B, N, 1, C)."""
    from videomae_tf.models import pretrainer

    return tuple(np.asarray(x) for x in pretrainer.patch_statistics(patches))


def unnormalize(clip, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """A model input (ImageNet-normalised) -> [0, 1] pixels, float32."""
    return (np.asarray(clip, np.float32) * np.asarray(std, np.float32)
            + np.asarray(mean, np.float32))


def reconstruct_video(clip, encoder_mask, predictions, *, patch_size=16, tubelet_size=2,
                      normalize_target=True, reconstruct_index=None, fill=0.0):
    """Put predicted patches back into pixels.

    Args:
        clip: the model input (B, T, H, W, 3), ImageNet-normalised.
        encoder_mask: (B, N) booleans, True = hidden from the encoder.
        predictions: (B, K, 3 * tubelet * p * p), channel fastest, for the tokens
            ``reconstruct_index`` (B, K) (default: the masked tokens, ascending).
        normalize_target: the model's target; True puts every prediction back with the
            statistics of the original patch at its position.
        fill: the value hidden patches get in the ``masked`` video.

    Returns ``{"original", "masked", "reconstruction"}``, each (B, T, H, W, 3) float32
    [0, 1] pixels (the reconstruction clipped to [0, 1]; visible patches are the original).
    """
    pixels = unnormalize(clip)
    b, t, h, w, c = pixels.shape
    grid = (t // tubelet_size, h // patch_size, w // patch_size)
    encoder_mask = np.asarray(encoder_mask, bool).reshape(b, -1)
    if reconstruct_index is None:
        reconstruct_index = np.stack([np.flatnonzero(row) for row in encoder_mask])
    reconstruct_index = np.asarray(reconstruct_index).reshape(b, -1)
    patches = patchify(pixels, patch_size, tubelet_size)
    predictions = np.asarray(predictions, np.float32).reshape(
        b, reconstruct_index.shape[1], patches.shape[2], c)
    rows = np.arange(b)[:, None]
    if normalize_target:
        mean, std = patch_statistics(patches)
        predictions = predictions * std[rows, reconstruct_index] + mean[rows, reconstruct_index]
    rebuilt = patches.copy()
    rebuilt[rows, reconstruct_index] = predictions
    visible = (~encoder_mask)[:, :, None, None].astype(np.float32)
    masked = patches * visible + fill * (1 - visible)
    return dict(
        original=pixels,
        masked=unpatchify(masked, grid, patch_size, tubelet_size),
        reconstruction=np.clip(unpatchify(rebuilt, grid, patch_size, tubelet_size), 0.0, 1.0),
    )


def to_uint8(video):
    return np.clip(np.round(np.asarray(video, np.float32) * 255.0), 0, 255).astype(np.uint8)


def frame_grid(rows, gap=2, scale=1, background=255):
    """Videos (T, H, W, 3) in [0, 1] -> one uint8 RGB picture: a row per video, a column
    per frame, ``gap`` pixels between cells, every cell enlarged ``scale`` x (nearest).

    Size: (len(rows) * H * scale + (len(rows) - 1) * gap, T * W * scale + (T - 1) * gap).
    """
    rows = [to_uint8(v) for v in rows]
    t, h, w, c = rows[0].shape
    if scale > 1:
        rows = [v.repeat(scale, axis=1).repeat(scale, axis=2) for v in rows]
        h, w = h * scale, w * scale
    out = np.full((len(rows) * h + (len(rows) - 1) * gap, t * w + (t - 1) * gap, c),
                  background, np.uint8)
    for r, video in enumerate(rows):
        for f in range(t):
            y, x = r * (h + gap), f * (w + gap)
            out[y:y + h, x:x + w] = video[f]
    return out


_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Pixels: the smallest frame height a person reads without zooming.
LEGIBLE_HEIGHT = 96
#: Frames shown of a longer clip (evenly spaced).
MAX_FRAMES = 8
#: The value hidden patches show in the masked input: a flat mid grey, unlike any frame.
MASK_GREY = 0.5
ROW_NAMES = ("original", "masked input", "reconstruction")


def legible_scale(height, minimum=LEGIBLE_HEIGHT):
    """The nearest-neighbour enlargement that makes a ``height``-pixel frame at least
    ``minimum`` pixels high (1 for frames already that large)."""
    return max(1, -(-int(minimum) // int(height)))


def frame_subset(num_frames, limit=MAX_FRAMES):
    """Up to ``limit`` evenly spaced frame positions, first and last included (all of a
    clip that is short enough)."""
    if num_frames <= limit:
        return list(range(num_frames))
    return sorted({int(round(i)) for i in np.linspace(0, num_frames - 1, limit)})


def _text_width(text, scale):
    return cv2.getTextSize(text, _FONT, scale, 1)[0][0]


def _put(image, text, origin, scale=0.5, colour=(0, 0, 0)):
    cv2.putText(image, text, origin, _FONT, scale, colour, 1, cv2.LINE_AA)


def labelled_figure(rows, row_names, title, subtitle="", *, frame_labels=None, scale=None,
                    gap=4):
    """Videos (T, H, W, 3) in [0, 1] -> an RGB uint8 picture a person reads at a glance:
    a title band (``title``, ``subtitle``), a label above each frame column, and each
    video as one row named by ``row_names``; frames enlarged ``scale`` x (nearest;
    default: to at least ``LEGIBLE_HEIGHT`` pixels)."""
    t, h = rows[0].shape[:2]
    scale = scale or legible_scale(h)
    grid = frame_grid(rows, gap=gap, scale=scale)
    cell_h, cell_w = h * scale, rows[0].shape[2] * scale
    label_w = max(_text_width(name, 0.5) for name in row_names) + 20
    head = 66
    width = max(label_w + grid.shape[1] + 10, _text_width(title, 0.6) + 20,
                _text_width(subtitle, 0.45) + 20)
    canvas = np.full((head + grid.shape[0] + 10, width, 3), 255, np.uint8)
    canvas[head:head + grid.shape[0], label_w:label_w + grid.shape[1]] = grid
    _put(canvas, title, (10, 22), 0.6)
    _put(canvas, subtitle, (10, 42), 0.45, (70, 70, 70))
    for column, label in enumerate(frame_labels or [f"frame {i}" for i in range(t)]):
        x = label_w + column * (cell_w + gap) + max((cell_w - _text_width(label, 0.4)) // 2, 0)
        _put(canvas, label, (x, head - 6), 0.4, (70, 70, 70))
    for row, name in enumerate(row_names):
        _put(canvas, name, (10, head + row * (cell_h + gap) + cell_h // 2 + 5), 0.5)
    return canvas


def reconstruction_figures(videos, *, title, subtitle, frame_indices=None, scale=None,
                           show_error=False):
    """(PNG picture, GIF frames) of ``reconstruct_video``'s output for one clip (arrays
    without the batch axis): rows original / masked input / reconstruction (and, with
    ``show_error``, the absolute error, brightest where largest), at most
    ``MAX_FRAMES`` frames in the picture; the GIF's frames have the same layout, one
    frame at a time."""
    rows = [videos[k] for k in ("original", "masked", "reconstruction")]
    names = list(ROW_NAMES)
    if show_error:
        error = np.abs(videos["reconstruction"] - videos["original"]).mean(axis=-1, keepdims=True)
        rows.append(np.repeat(error / max(float(error.max()), 1e-6), 3, axis=-1))
        names.append("|error|")
    t = rows[0].shape[0]
    frame_indices = list(range(t)) if frame_indices is None else list(frame_indices)
    shown = frame_subset(t)
    picture = labelled_figure([r[shown] for r in rows], names, title, subtitle,
                              frame_labels=[f"frame {frame_indices[i]}" for i in shown],
                              scale=scale)
    animation = [labelled_figure([r[i:i + 1] for r in rows], names, title, subtitle,
                                 frame_labels=[f"frame {frame_indices[i]}"], scale=scale)
                 for i in range(t)]
    return picture, animation


def write_png(path, image_rgb):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return files.write_png(path, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))


def write_gif(path, frames_rgb, fps=4.0):
    """An endlessly looping GIF of uint8 RGB frames (OpenCV >= 4.11, else Pillow), written
    under a temporary name and renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.replacing(path) as tmp:
        _write_gif(tmp, frames_rgb, fps)
    return path


def _write_gif(path, frames_rgb, fps):
    duration = max(int(round(1000.0 / fps)), 10)
    if hasattr(cv2, "imwriteanimation") and hasattr(cv2, "Animation"):
        animation = cv2.Animation()
        animation.loop_count = 0
        animation.frames = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR) for f in frames_rgb]
        animation.durations = [duration] * len(frames_rgb)
        try:
            if cv2.imwriteanimation(str(path), animation):
                return
        except cv2.error:
            pass  # an OpenCV built without the GIF codec: try Pillow
    try:
        from PIL import Image
    except ImportError:
        raise RuntimeError("writing a GIF needs OpenCV >= 4.11 (cv2.imwriteanimation with "
                           "GIF support) or Pillow (`pip install pillow`)") from None
    images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames_rgb]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=duration, loop=0)


# ------------------------------------------------------------------------ model + video

def _load_pretrainer(weights):
    from videomae_tf.models import VideoMAEPretrainer, load_model

    model = weights if isinstance(weights, VideoMAEPretrainer) else load_model(weights)
    if not isinstance(model, VideoMAEPretrainer):
        raise InputError(f"visualize needs a pretraining model (encoder + decoder), but "
                         f"{weights} holds a {type(model).__name__}; pass the weights a "
                         f"pretraining run (or `videomae-convert --task pretrain`) wrote")
    return model


def _centred_window(num_frames, clip_len, rate):
    return max((num_frames - clip_len * rate + 1) // 2, 0)


def read_video_clip(video_path, num_frames, img_size, *, sampling_rate=4, start=None,
                    backend="auto"):
    """Decode ``num_frames`` frames, every ``sampling_rate``-th from ``start`` (default: the
    centred window; the pretraining sampler's rules for short videos), resize the short
    side and centre-crop to ``img_size``, normalise. Returns (clip (T, H, W, 3), indices)."""
    from videomae_tf.data import read_clip
    from videomae_tf.data import sampling, transforms

    height, width = (img_size, img_size) if np.isscalar(img_size) else tuple(img_size)

    def sample(n, fps):
        first = _centred_window(n, num_frames, sampling_rate) if start is None else start
        return sampling.pretrain_window_indices(n, None, num_frames, sampling_rate, start=first)

    frames, indices = read_clip(video_path, sample, backend=backend)
    h0, w0 = frames.shape[1:3]
    factor = max(height / h0, width / w0)
    resized = transforms.resize(frames, max(height, int(round(h0 * factor))),
                                max(width, int(round(w0 * factor))))
    top = (resized.shape[1] - height) // 2
    left = (resized.shape[2] - width) // 2
    clip = transforms.normalize(resized[:, top:top + height, left:left + width])
    return clip.astype(np.float32), indices


def visualize(video_path, weights, output_dir, *, mask_ratio=0.9, mask_type="tube", seed=0,
              sampling_rate=4, start=None, fps=4.0, scale=None, show_error=False,
              backend="auto", name=None):
    """Write the reconstruction grid (PNG) and animation (GIF) of one video.

    Args:
        video_path: any video the decoders read.
        weights: a pretraining model, or its file (.weights.h5 with its JSON sidecar, or
            .keras) as ``pretrain`` or ``videomae-convert --task pretrain`` write it.
        output_dir: where ``<name>_reconstruction.{png,gif}`` go (``name``: the video's stem).
        mask_ratio, mask_type, seed: the encoder mask ('tube' as in pretraining, or
            'random'), drawn from ``seed``. Every masked token is reconstructed (also for
            V2 models: the decoder mask only saves training compute).
        sampling_rate, start: the clip: every ``sampling_rate``-th frame from ``start``
            (default: the centred window).
        fps, scale: GIF speed, nearest-neighbour enlargement (default: frames at least
            ``LEGIBLE_HEIGHT`` pixels high).
        show_error: add a row with the absolute reconstruction error.

    Returns {"png", "gif", "frame_indices", "loss" (the model's loss on the masked tokens),
    "num_masked", "num_tokens"}.
    """
    from videomae_tf import masking

    model = _load_pretrainer(weights)
    cfg = model.encoder.encoder_config
    clip, indices = read_video_clip(video_path, cfg["num_frames"], cfg["img_size"],
                                    sampling_rate=sampling_rate, start=start, backend=backend)
    mask = masking.make_mask(mask_type, model.encoder.grid, mask_ratio, np.random.default_rng(seed))
    if mask.all():
        raise InputError(f"mask ratio {mask_ratio} hides every token: nothing left to see")
    if not mask.any():
        raise InputError(f"mask ratio {mask_ratio} hides no token of the {model.encoder.grid} "
                         f"grid: nothing to reconstruct")
    name = name or Path(video_path).stem
    videos, loss = reconstruct_clip(model, clip, mask)
    subtitle = (f"{mask_type} mask, ratio {mask_ratio:g} ({int(mask.sum())} of {mask.size} "
                f"tokens hidden, grey)   loss {loss:.4f}")
    picture, animation = reconstruction_figures(
        videos, title=f"{name}: masked reconstruction", subtitle=subtitle,
        frame_indices=indices, scale=scale, show_error=show_error)
    out = Path(output_dir)
    png = write_png(out / f"{name}_reconstruction.png", picture)
    gif = write_gif(out / f"{name}_reconstruction.gif", animation, fps=fps)
    return dict(png=str(png), gif=str(gif), frame_indices=[int(i) for i in indices], loss=loss,
                num_masked=int(mask.sum()), num_tokens=int(mask.size))


def reconstruct_clip(model, clip, mask):
    """Run ``model`` on one clip (T, H, W, 3) with the encoder ``mask`` (N,) and put its
    predictions back: (``reconstruct_video``'s videos without the batch axis, the loss)."""
    cfg = model.encoder.encoder_config
    clip, mask = np.asarray(clip)[None], np.asarray(mask, bool)[None]
    predictions = np.asarray(model.reconstruct(clip, mask))
    visible_index, reconstruct_index = (np.flatnonzero(~mask[0])[None], np.flatnonzero(mask[0])[None])
    loss = float(model.loss_from_predictions(
        {"pixel_values": clip, "visible_index": visible_index, "reconstruct_index": reconstruct_index},
        predictions))
    videos = reconstruct_video(clip, mask, predictions, patch_size=cfg["patch_size"],
                               tubelet_size=cfg["tubelet_size"],
                               normalize_target=model.decoder_config["normalize_target"],
                               fill=MASK_GREY)
    return {k: v[0] for k, v in videos.items()}, loss
