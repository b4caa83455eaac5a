"""``videomae-tf visualize``: the masked-reconstruction picture and GIF of a video."""

from __future__ import annotations

import json

from videomae_tf.cli.common import WEIGHTS_HELP, existing, load_videomae_model


def add_visualize_arguments(p):
    p.add_argument("video", help="the video to reconstruct")
    p.add_argument("--weights", required=True, help="pretraining " + WEIGHTS_HELP)
    p.add_argument("--output", required=True, help="folder for the PNG grid and the GIF")
    p.add_argument("--mask-ratio", type=float, default=0.9, help="encoder mask ratio (0.9)")
    p.add_argument("--mask-type", default="tube", choices=("tube", "random"))
    p.add_argument("--seed", type=int, default=0, help="seed of the mask")
    p.add_argument("--sampling-rate", type=int, default=4, help="take every n-th frame (4)")
    p.add_argument("--start", type=int, help="first frame (default: the centred window)")
    p.add_argument("--fps", type=float, default=4.0, help="GIF frames per second")
    p.add_argument("--scale", type=int, default=None,
                   help="enlarge every frame n x (nearest; default: to at least 96 pixels high)")
    p.add_argument("--error", action="store_true", help="add a row with the reconstruction error")
    p.add_argument("--backend", default="auto", help="video decoder: auto, decord, pyav, opencv")


def run_visualize(args) -> int:
    from videomae_tf.visualize import visualize

    existing(args.video, "video")
    result = visualize(args.video, load_videomae_model(args.weights), args.output, mask_ratio=args.mask_ratio,
                       mask_type=args.mask_type, seed=args.seed, sampling_rate=args.sampling_rate,
                       start=args.start, fps=args.fps, scale=args.scale, show_error=args.error,
                       backend=args.backend)
    print(json.dumps(result, indent=2))
    return 0


COMMANDS = {
    "visualize": ("masked-reconstruction picture (PNG grid) and GIF of a video",
                  add_visualize_arguments, run_visualize),
}
