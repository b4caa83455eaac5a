"""``videomae-tf zoo`` (the model zoo: list, show, fetch) and ``push-to-hub`` (upload a
model as a pretrained folder)."""

from __future__ import annotations

import dataclasses
import json

from videomae_tf.cli.common import WEIGHTS_HELP, UsageError, load_videomae_model


def add_zoo_arguments(p):
    p.add_argument("name", nargs="?", help="a zoo name: show its facts (default: list them all)")
    p.add_argument("--markdown", action="store_true", help="the list as README's markdown table")
    p.add_argument("--fetch", action="store_true",
                   help="download and convert NAME into the cache now (what from_pretrained "
                        "does on first use); prints the folder")
    p.add_argument("--checkpoint", help="with --fetch: convert this downloaded checkpoint "
                                        "instead (for request-only or Google Drive entries)")


def run_zoo(args) -> int:
    from videomae_tf.zoo import ZOO, markdown_table

    if args.name is None:
        if args.fetch:
            raise UsageError("--fetch needs a zoo NAME")
        print(markdown_table() if args.markdown else _text_table(ZOO.values()))
        return 0
    if args.name not in ZOO:
        import difflib

        close = difflib.get_close_matches(args.name, list(ZOO), n=3)
        raise UsageError(f"{args.name} is not a zoo name" +
                         (f"; did you mean {', '.join(close)}?" if close else
                          " (videomae-tf zoo lists them)"))
    if not args.fetch:
        entry = ZOO[args.name]
        print(json.dumps(dict(dataclasses.asdict(entry), setting=entry.setting()), indent=2))
        return 0
    from videomae_tf.hub import resolve

    try:
        print(resolve(args.name, checkpoint=args.checkpoint))
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    return 0


def _text_table(entries) -> str:
    rows = [("name", "task", "data", "setting", "top-1", "fetched")]
    for e in entries:
        rows.append((e.name, e.task, e.data, e.setting(), "-" if e.top1 is None else str(e.top1),
                     e.how_fetched()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def add_push_arguments(p):
    p.add_argument("repo_id", help="the Hugging Face repo to upload to: org/name")
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    p.add_argument("--labels", help="class names: a dataset (kinetics400, ...) or a file "
                                    "(default: the model's own)")
    p.add_argument("--private", action="store_true", help="create the repo as private")


def run_push(args) -> int:
    from videomae_tf.cli.common import class_names, model_source
    from videomae_tf.hub import push_to_hub
    from videomae_tf.models.saving import stored_class_names

    model = load_videomae_model(args.weights)
    names = class_names(args.labels, getattr(model, "num_classes", None),
                        stored_class_names(model_source(args.weights)))
    print(push_to_hub(model, args.repo_id, class_names=names, private=args.private,
                      source={"weights": args.weights}))
    return 0


COMMANDS = {
    "zoo": ("the model zoo: official checkpoints, their settings and reported accuracy",
            add_zoo_arguments, run_zoo),
    "push-to-hub": ("upload a model to the Hugging Face Hub as a pretrained folder",
                    add_push_arguments, run_push),
}
