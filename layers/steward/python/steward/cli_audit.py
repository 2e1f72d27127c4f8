"""``steward audit export|verify|archive``: a tenant's audit trail as JSON lines, its chain
checked, and its records copied to the archive.

``verify`` walks the tenant's chain (`steward.audit.chain`) and exits 0 when it holds, or
`EXIT_CHAIN_BROKEN` naming the first edited, inserted or deleted record (its ``seq`` and request
id). ``export`` writes the records, oldest first and exactly as stored (chain fields included),
one JSON object per line on stdout, whatever ``--json`` says; the count goes to stderr. Both need
the pepper (the chain key is derived from it), read like the other admin commands. Registered in
`steward.cli`. Both are audited like every command, in the tenant's own chain and after the walk
(``verify`` counts the records before its own).

With ``--archive`` both read the audit bucket instead of the table (`steward.audit.archive`):
records the table's TTL removed are there, every version of every object is read, and ``verify``
excuses no gap between archived records (the table's head may still run ahead of the archive).
``archive`` copies the table's records into the archive (records written before the archiver
ran, or a batch it gave up on); objects are named by content, so running it twice writes nothing
new.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from steward.cli_record import Audited, tenant_arg
from steward.settings import AdminSettings

Result = tuple[dict[str, Any], str]
#: ``verify`` found the chain broken (edited, inserted or deleted records, or a bad head).
EXIT_CHAIN_BROKEN = 4


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    """The ``audit`` group, under ``steward``'s subparsers."""
    audit = groups.add_parser("audit", help="audit trail").add_subparsers(dest="action", required=True)
    from_archive = "read the audit archive (S3) instead of the table"
    verify = audit.add_parser("verify", parents=[common], help="check a tenant's audit chain")
    verify.add_argument("--tenant", required=True)
    verify.add_argument("--since", help="ISO 8601 time: check from here on (its first link taken as given)")
    verify.add_argument("--archive", action="store_true", help=from_archive)
    export = audit.add_parser("export", parents=[common], help="a tenant's records as JSON lines on stdout")
    export.add_argument("--tenant", required=True)
    export.add_argument("--since", help="ISO 8601 time (inclusive)")
    export.add_argument("--until", help="ISO 8601 time (records before it)")
    export.add_argument("--archive", action="store_true", help=from_archive)
    archive = audit.add_parser("archive", parents=[common], help="copy a tenant's records into the archive")
    archive.add_argument("--tenant", required=True)
    archive.add_argument("--since", help="ISO 8601 time (inclusive)")
    archive.add_argument("--until", help="ISO 8601 time (records before it)")


def _trail(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_audit_trail

    return build_audit_trail(settings)


def _archive(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_audit_archive

    return build_audit_archive(settings)


def _verify(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.audit.archive import verify_archive
    from steward.audit.trail import verify
    from steward.cli import CliError

    if args.archive:
        ports = _archive(settings)
        verdict = verify_archive(ports.archived, ports.table.chain, args.tenant, since=args.since)
    else:
        store = _trail(settings)
        verdict = verify(store, store.chain, args.tenant, since=args.since)
    chain = "archived audit chain" if args.archive else "audit chain"
    document: dict[str, Any] = {
        "tenant_id": verdict.tenant_id,
        "ok": verdict.ok,
        "records": verdict.records,
        "first_seq": verdict.first_seq,
        "last_seq": verdict.last_seq,
        "head_seq": verdict.head_seq,
    }
    if args.archive:
        document["source"] = "archive"
    finding = verdict.finding
    if finding is not None:
        where = f"seq {finding.seq}" if finding.seq is not None else "no seq"
        request = f", request {finding.request_id}" if finding.request_id else ""
        raise CliError(
            "audit.chain_broken",
            f"the {chain} of tenant {args.tenant} is broken: "
            f"{finding.problem} record ({where}{request}): {finding.detail}",
            EXIT_CHAIN_BROKEN,
            **{k: v for k, v in document.items() if k != "tenant_id"},
            finding={
                "problem": finding.problem,
                "seq": finding.seq,
                "request_id": finding.request_id,
                "detail": finding.detail,
            },
        )
    if verdict.records == 0:
        summary = f"{chain} of tenant {args.tenant} holds: no records (head seq {verdict.head_seq})"
    else:
        summary = (
            f"{chain} of tenant {args.tenant} holds: {verdict.records} records, "
            f"seq {verdict.first_seq}..{verdict.last_seq} (head {verdict.head_seq})"
        )
    behind = (verdict.head_seq or 0) - (verdict.last_seq or 0)
    if args.archive and behind > 0:
        summary += f"; the newest {behind} not archived yet"
    return document, summary


def _export(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.audit.trail import export, json_line

    source = _archive(settings).archived if args.archive else _trail(settings)
    count = 0
    for record in export(source, args.tenant, since=args.since, until=args.until):
        sys.stdout.write(json_line(record) + "\n")
        count += 1
    sys.stdout.flush()
    print(f"exported {count} audit records of tenant {args.tenant}", file=sys.stderr)
    return {}, ""  # written already: `steward.cli.main` prints nothing more


def _copy(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.audit.trail import export
    from steward.cli import EXIT_REFUSED, CliError

    ports = _archive(settings)
    outcome = ports.archiver.archive_records(
        export(ports.table, args.tenant, since=args.since, until=args.until)
    )
    document = {
        "tenant_id": args.tenant,
        "records": outcome.records,
        "objects_written": outcome.objects,
        "objects_present": outcome.repeats,
    }
    if outcome.failed:
        raise CliError(
            "audit.archive_failed",
            f"some records of tenant {args.tenant} could not be archived (see the log); run it again",
            EXIT_REFUSED,
            **document,
        )
    summary = (
        f"archived {outcome.records} audit records of tenant {args.tenant}: "
        f"{outcome.objects} objects written, {outcome.repeats} already there"
    )
    return document, summary


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("audit", "verify"): _verify,
    ("audit", "export"): _export,
    ("audit", "archive"): _copy,
}

AUDITED: dict[tuple[str, str], Audited] = {
    ("audit", "verify"): Audited("admin.audit_verify", tenant_arg),
    ("audit", "export"): Audited("admin.audit_export", tenant_arg),
    ("audit", "archive"): Audited("admin.audit_archive", tenant_arg, mutates=True),
}
