"""``python -m modelport.runtime MODEL``: ``modelport serve`` without the CLI's import cost.

Hosting starts its instances this way: the same server, a faster cold start.
"""

from __future__ import annotations

import argparse
import sys

from modelport.runtime.serve import run


def main(argv: list[str] | None = None, fork_workers: bool = False) -> int:
    """Parse the ``modelport serve`` options and serve (``fork_workers``: in an instance forked from
    hosting's template, fork the workers too)."""
    parser = argparse.ArgumentParser(prog="python -m modelport.runtime", description="Serve one SageMaker-layout model.")
    parser.add_argument("model", nargs="?", default="/opt/ml/model", help="model.tar.gz or model directory")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--framework", default=None, choices=["auto", "sklearn", "pytorch", "none"])
    parser.add_argument("--install-requirements", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    return run(
        args.model, host=args.host, port=args.port, workers=args.workers,
        framework=args.framework, install_requirements=args.install_requirements, fork_workers=fork_workers,
    )


if __name__ == "__main__":
    sys.exit(main())
