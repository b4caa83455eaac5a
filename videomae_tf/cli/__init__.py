"""The ``videomae-tf`` command: pretrain, fine-tune, evaluate, predict, export, features...

    videomae-tf finetune --recipe k400 --set data.train=train.txt --output runs/k400
    videomae-tf evaluate --weights model.weights.h5 --list val.txt --labels kinetics400
    videomae-tf predict clip.mp4 --weights model.weights.h5 --labels kinetics400
    videomae-tf predict long.mp4 --weights model.weights.h5 --timeline --stride 2
    videomae-tf features videos/ --weights model.weights.h5 --output features.h5
    videomae-tf export --weights model.weights.h5 --format onnx --output model.onnx
    videomae-tf zoo                      # the official checkpoints; --weights takes their names

Each subcommand is a pair ``add_<name>_arguments(parser)`` / ``run_<name>(args)`` in the
module of its kind, listed in that module's ``COMMANDS``. ``main(argv)`` returns the exit
code: 0 success, 1 a failure while running (a bug, a crash: the exception's type is named,
``--debug`` shows the traceback), 2 bad input (``videomae_tf.errors.InputError``: a wrong
value, shape or option; a missing file).
"""

from __future__ import annotations

import argparse
import os
import sys

from videomae_tf.cli import (crop, deploy, hub, inference, pack, service, tools, training,
                             visualize)
from videomae_tf.cli.common import PROG, UsageError

__all__ = ["COMMANDS", "PROG", "UsageError", "build_parser", "main"]

#: name -> (help, add_arguments, run), in the order ``--help`` lists them.
COMMANDS = {**training.COMMANDS, **inference.COMMANDS, **tools.COMMANDS, **deploy.COMMANDS,
            **visualize.COMMANDS, **hub.COMMANDS, **crop.COMMANDS, **pack.COMMANDS,
            **service.COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="VideoMAE in Keras 3 / TensorFlow.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log lines (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    from videomae_tf.startup import keras_backend_problem, quiet_start

    # before anything imports TensorFlow: it is then imported quietly, when first needed
    quiet_start(verbose="--verbose" in (sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help or an argparse error
        return int(e.code or 0)
    problem = keras_backend_problem()
    if problem:
        print(f"{PROG} {args.command}: error: {problem}", file=sys.stderr)
        return 2
    code = _run(args)
    if args.command in ("finetune", "pretrain") and _in_a_cluster():
        # a worker's runtime threads can outlive a failed (or finished) collective run and
        # keep the interpreter from exiting: leave now, output flushed
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _in_a_cluster() -> bool:
    if not os.environ.get("TF_CONFIG"):  # no cluster: leave the training package unloaded
        return False
    from videomae_tf.training.distribute import cluster_workers

    try:
        return cluster_workers() > 1
    except ValueError:
        return False


def _run(args) -> int:
    """Run the parsed command; failures become one line on stderr and an exit code."""
    run = COMMANDS[args.command][2]
    try:
        return int(run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - turn every failure into a message + exit code
        if args.debug:
            raise
        usage = isinstance(e, (UsageError, FileNotFoundError))
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        if not usage:
            print(f"({type(e).__name__}; rerun with --debug for the traceback)", file=sys.stderr)
        return 2 if usage else 1


