"""``steward batches show|redrive``: a batch's state for operators, and the dead-letter redrive.

``show`` reads the batch's record (status, counts, chunks counted and the last failure code of each
chunk that failed: codes only, never content); ``redrive`` moves jobs from the jobs dead-letter
queue back to the jobs queue (`steward.batches.redrive`), safe at any time since every job is
idempotent. Both are audited (`steward.cli_record`): ``show`` in the tenant's chain, ``redrive``
(jobs of any tenant) in the platform's. Registered in `steward.cli`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from typing import Any

from steward.audit.record import AuditDraft
from steward.batches.ids import BATCH_ID_PATTERN
from steward.cli_record import Audited, tenant_arg
from steward.controls.model import TENANT_ID
from steward.settings import AdminSettings

Result = tuple[dict[str, Any], str]
_BATCH_ID = re.compile(BATCH_ID_PATTERN)
#: The batch ids a redrive's record names at most (one record stays far below DynamoDB's item
#: size); beyond them it notes ``batch.more``, and the command's output MAC covers them all.
MAX_NOTED_BATCHES = 100


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

    if not TENANT_ID.fullmatch(str(args.tenant).strip()):
        raise ValueError("--tenant: 1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
    if not _BATCH_ID.fullmatch(str(args.batch)):
        raise ValueError("--batch must be a batch id (batch_ and 32 hex digits)")
    record = build_batch_store(settings).get_batch(str(args.tenant).strip(), args.batch)
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


def _noted_batch(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """The batch looked at, as ``/v1/batches/{id}`` names it: a checked id, never raw text."""
    if _BATCH_ID.fullmatch(str(args.batch)):
        draft.reason_codes.append(f"batch.{args.batch}")


def _redriven(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """The batches whose jobs moved back (ids the queue held, checked again before noting)."""
    if document is None:
        return
    moved = sorted(b for b in document.get("batches", {}) if _BATCH_ID.fullmatch(str(b)))
    draft.reason_codes.extend(f"batch.{b}" for b in moved[:MAX_NOTED_BATCHES])
    if len(moved) > MAX_NOTED_BATCHES:
        draft.reason_codes.append("batch.more")


#: How each command is audited (`steward.cli_record`), as the batch routes are.
AUDITED: dict[tuple[str, str], Audited] = {
    ("batches", "show"): Audited("admin.batch_show", tenant_arg, describe=_noted_batch),
    ("batches", "redrive"): Audited("admin.batch_redrive", mutates=True, describe=_redriven),
}
