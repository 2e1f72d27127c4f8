"""CLI: ``python -m gpu_backend.build --output DIR [--models a,b] [--force] [--no-fp16] [--no-fuse]``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from gpu_backend.build.options import BuildOptions
from gpu_backend.build.registry import build_models, model_names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gpu_backend.build", description=__doc__)
    parser.add_argument("--output", required=True, type=Path, help="model repository directory")
    parser.add_argument(
        "--models",
        default=",".join(model_names()),
        help=f"comma-separated model names, each all its versions, or name@version "
        f"(default: all of {', '.join(model_names())})",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the model verifies")
    parser.add_argument("--no-fp16", action="store_true", help="skip fp16 variants")
    parser.add_argument("--no-fuse", action="store_true", help="ship unfused (plain ONNX op) graphs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    options = BuildOptions(fp16=not args.no_fp16, fuse=not args.no_fuse)
    started = time.perf_counter()
    try:
        results = build_models(args.output, names, force=args.force, options=options)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.status:7s} {result.name}@{result.version} in {result.seconds:.1f}s -> {result.path}")
    print(f"done in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
