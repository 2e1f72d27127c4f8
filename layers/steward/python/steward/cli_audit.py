"""``steward audit export|verify``: a tenant's audit trail as JSON lines, and its chain checked.

``verify`` walks the tenant's chain (`steward.audit.chain`) and exits 0 when it holds, or
`EXIT_CHAIN_BROKEN` naming the first edited, inserted or deleted record (its ``seq`` and request
id). ``export`` writes the records, oldest first and exactly as stored (chain fields included),
one JSON object per line on stdout, whatever ``--json`` says; the count goes to stderr. Both need
the pepper (the chain key is derived from it), read like the other admin commands. Registered in
`steward.cli`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from steward.settings import AdminSettings

Result = tuple[dict[str, Any], str]
#: ``verify`` found the chain broken (edited, inserted or deleted records, or a bad head).
EXIT_CHAIN_BROKEN = 4


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    """The ``audit`` group, under ``steward``'s subparsers."""
    audit = groups.add_parser("audit", help="audit trail").add_subparsers(dest="action", required=True)
    verify = audit.add_parser("verify", parents=[common], help="check a tenant's audit chain")
    verify.add_argument("--tenant", required=True)
    verify.add_argument("--since", help="ISO 8601 time: check from here on (its first link taken as given)")
    export = audit.add_parser("export", parents=[common], help="a tenant's records as JSON lines on stdout")
    export.add_argument("--tenant", required=True)
    export.add_argument("--since", help="ISO 8601 time (inclusive)")
    export.add_argument("--until", help="ISO 8601 time (records before it)")


def _trail(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_audit_trail

    return build_audit_trail(settings)


def _verify(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.audit.trail import verify
    from steward.cli import CliError

    store = _trail(settings)
    verdict = verify(store, store.chain, args.tenant, since=args.since)
    document: dict[str, Any] = {
        "tenant_id": verdict.tenant_id,
        "ok": verdict.ok,
        "records": verdict.records,
        "first_seq": verdict.first_seq,
        "last_seq": verdict.last_seq,
        "head_seq": verdict.head_seq,
    }
    finding = verdict.finding
    if finding is not None:
        where = f"seq {finding.seq}" if finding.seq is not None else "no seq"
        request = f", request {finding.request_id}" if finding.request_id else ""
        raise CliError(
            "audit.chain_broken",
            f"the audit chain of tenant {args.tenant} is broken: "
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
        summary = f"audit chain of tenant {args.tenant} holds: no records (head seq {verdict.head_seq})"
    else:
        summary = (
            f"audit chain of tenant {args.tenant} holds: {verdict.records} records, "
            f"seq {verdict.first_seq}..{verdict.last_seq} (head {verdict.head_seq})"
        )
    return document, summary


def _export(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.audit.trail import export, json_line

    count = 0
    for record in export(_trail(settings), args.tenant, since=args.since, until=args.until):
        sys.stdout.write(json_line(record) + "\n")
        count += 1
    sys.stdout.flush()
    print(f"exported {count} audit records of tenant {args.tenant}", file=sys.stderr)
    return {}, ""  # written already: `steward.cli.main` prints nothing more


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("audit", "verify"): _verify,
    ("audit", "export"): _export,
}
