"""``steward batches show|redrive``: a batch's state for operators, and the dead-letter redrive.

``show`` reads the batch's record (status, counts, chunks counted and the last failure code of each
chunk that failed: codes only, never content); ``redrive`` moves jobs from the jobs dead-letter
queue back to the jobs queue (`steward.batches.redrive`), safe at any time since every job is
idempotent. Registered in `steward.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from steward.settings import AdminSettings

Result = tuple[dict[str, Any], str]


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    batches = groups.add_parser("batches", help="Batch API operations").add_subparsers(
        dest="action", required=True
    )
    show = batches.add_parser("show", parents=[common], help="a batch's status, counts and failures")
    show.add_argument("--tenant", required=True)
    show.add_argument("--batch", required=True)
    redrive = batches.add_parser("redrive", parents=[common], help="move dead-letter jobs back to the queue")
    redrive.add_argument("--max", type=int, default=None, metavar="N", help="at most N jobs (default: all)")


def _show(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.bootstrap import build_batch_store
    from steward.errors import BatchNotFound

    record = build_batch_store(settings).get_batch(args.tenant, args.batch)
    if record is None:
        raise BatchNotFound()
    document = {
        "tenant_id": record.tenant_id,
        "batch_id": record.batch_id,
        "status": record.status.value,
        "endpoint": record.endpoint,
        "key_id": record.key_id,
        "request_counts": {"total": record.total, "completed": record.completed, "failed": record.failed},
        "chunks": {"total": record.chunk_count, "counted": len(record.done)},
        "failures": dict(sorted(record.failures.items())),
        "errors": list(record.errors),
    }
    failures = ", ".join(f"chunk {c}: {code}" for c, code in sorted(record.failures.items())) or "none"
    summary = (
        f"{record.batch_id} ({record.tenant_id}) {record.status.value}: {record.completed} completed, "
        f"{record.failed} failed of {record.total}; chunks {len(record.done)}/{record.chunk_count}; "
        f"failures: {failures}"
    )
    return document, summary


def _redrive(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.batches.redrive import redrive
    from steward.bootstrap import build_dead_letters

    if args.max is not None and args.max < 1:
        raise ValueError("--max must be at least 1")
    result = redrive(build_dead_letters(settings), limit=args.max)
    summary = f"moved {result['moved']} jobs of {len(result['batches'])} batches back to the jobs queue"
    if result["kept"]:
        summary += f"; {result['kept']} messages are not batch jobs and stay in the dead-letter queue"
    return result, summary


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("batches", "show"): _show,
    ("batches", "redrive"): _redrive,
}
