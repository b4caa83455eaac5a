"""How fast the command line answers: seconds per command against ``python -c pass``.

Each command runs as a fresh process (as a user types it), in turns with the baseline,
median of the rounds. The commands that need no model (help, listings, the resolved
config, argument errors) should cost little more than starting Python; ``import
tensorflow`` is timed too, as what they would cost if they loaded it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _report import RESULTS, alternating_times, machine, write_report

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import tensorflow": [sys.executable, "-c", "import tensorflow"],
    "videomae-tf --help": [sys.executable, "-m", "videomae_tf.cli", "--help"],
    "videomae-tf predict --help": [sys.executable, "-m", "videomae_tf.cli", "predict", "--help"],
    "videomae-tf zoo": [sys.executable, "-m", "videomae_tf.cli", "zoo"],
    "videomae-tf finetune --print-config": [sys.executable, "-m", "videomae_tf.cli", "finetune",
                                            "--recipe", "synthetic", "--print-config"],
    "videomae-tf predict (argument error)": [sys.executable, "-m", "videomae_tf.cli", "predict",
                                             "x.mp4", "--weights", "w", "--top-k", "many"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (5)")
    parser.add_argument("--output", default=str(RESULTS / "cli_start.json"))
    args = parser.parse_args(argv)

    def run(command):
        return lambda: subprocess.run(command, capture_output=True, check=False)

    _, times = alternating_times({name: run(c) for name, c in COMMANDS.items()}, args.repeats)
    baseline = statistics.median(times["python -c pass"])
    rows = {}
    for name, seconds in times.items():
        median = statistics.median(seconds)
        rows[name] = {"seconds": round(median, 3),
                      "over_python_start_s": round(median - baseline, 3)}
        print(f"{name:40s} {median:6.2f} s  (+{median - baseline:.2f} s over python -c pass)")
    write_report(args.output, {"repeats": args.repeats, "commands": rows, "machine": machine(),
                               "command": "python benchmarks/cli_start.py"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
