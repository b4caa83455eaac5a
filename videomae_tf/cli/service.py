"""``videomae-tf data-service``: a tf.data service dispatcher or worker (issue 25)."""

from __future__ import annotations

import argparse

from videomae_tf.cli.common import UsageError


def add_service_arguments(p: argparse.ArgumentParser) -> None:
    role = p.add_mutually_exclusive_group(required=True)
    role.add_argument("--dispatcher", type=int, metavar="PORT",
                      help="serve a dispatcher on PORT (trainers: --set data.service="
                           "grpc://THIS_HOST:PORT)")
    role.add_argument("--worker", metavar="DISPATCHER",
                      help="serve a worker of the dispatcher at grpc://HOST:PORT")
    p.add_argument("--port", type=int, default=0,
                   help="--worker: the port it serves on (default: a free one)")
    p.add_argument("--host", help="--worker: the name other hosts reach this one by "
                                  "(default: this machine's host name)")
    p.add_argument("--work-dir", help="--dispatcher: a folder (or gs:// URL) for its journal, "
                                      "so that a restarted dispatcher resumes its jobs")


def run_service(args: argparse.Namespace) -> int:
    from videomae_tf.data import service

    if args.dispatcher is not None:
        if not 0 <= args.dispatcher <= 65535:
            raise UsageError(f"--dispatcher {args.dispatcher}: expected a port 0-65535")
        server = service.start_dispatcher(args.dispatcher, args.work_dir)
        return service.serve(server, f"data-service: dispatcher at {server.target}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected a port 0-65535 (0: a free one)")
    server = service.start_worker(args.worker, args.port, args.host)
    return service.serve(server, f"data-service: worker of {args.worker}")


COMMANDS = {
    "data-service": ("serve a tf.data service dispatcher or worker for packed pipelines",
                     add_service_arguments, run_service),
}
