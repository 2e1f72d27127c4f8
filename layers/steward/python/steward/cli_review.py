"""``steward review list|show|claim|resolve``: the human review queue of usage-policy flags.

The same operations as ``/admin/reviews`` (`steward.review.service.ReviewService`, the one
implementation of both), acting for the operator: any tenant, and without ``--tenant`` a listing
of every tenant's queue (a full read of the review table: an operator's view, never the API's).
The CLI's claims name ``cli`` as the reviewer. ``show`` prints the texts the rule matched, as the
privacy policy left them (redacted), opened with the stage's KMS key. Registered in `steward.cli`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from steward.audit.record import AuditDraft
from steward.cli_record import Audited
from steward.review.model import DEFAULT_PAGE, Decision, State, is_review_id
from steward.settings import AdminSettings

Result = tuple[dict[str, Any], str]


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    review = groups.add_parser("review", help="the review queue of flagged requests").add_subparsers(
        dest="action", required=True
    )
    listing = review.add_parser("list", parents=[common], help="items (metadata, never texts)")
    listing.add_argument("--tenant", help="one tenant's queue (default: every tenant's)")
    listing.add_argument("--state", choices=[s.value for s in State], default=State.OPEN.value)
    listing.add_argument("--limit", type=int, default=DEFAULT_PAGE, help="items per page")
    listing.add_argument("--cursor", help="the next_cursor of the previous page")
    show = review.add_parser("show", parents=[common], help="one item with its (redacted) texts")
    show.add_argument("review_id")
    claim = review.add_parser("claim", parents=[common], help="hold an item while you review it")
    claim.add_argument("review_id")
    resolve = review.add_parser("resolve", parents=[common], help="decide a claimed item")
    resolve.add_argument("review_id")
    resolve.add_argument("--decision", required=True, choices=[d.value for d in Decision])
    resolve.add_argument(
        "--suspend-key", action="store_true", help="with violation: revoke the key that made the request"
    )


def _service(settings: AdminSettings) -> Any:
    from steward import admin
    from steward.bootstrap import build_reviews

    return build_reviews(settings, keys=admin.key_lifecycle(settings=settings))


def _line(view: dict[str, Any]) -> str:
    parts = [
        view["review_id"],
        f"{view['state']:<8}",
        view["tenant_id"],
        f"{view['kind']}:{view['rule']}",
        view["direction"],
        view["model"] or "-",
        f"created={_when(view['created_at'])}",
    ]
    if view["hold"]:
        parts.append("hold")
    if view["claimed_by"]:
        parts.append(f"claimed-by={view['claimed_by']} until={_when(view['claim_expires_at'])}")
    if view["decision"]:
        parts.append(f"decision={view['decision']}" + (" key-suspended" if view["suspend_key"] else ""))
    return "  ".join(parts)


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _list(args: argparse.Namespace, settings: AdminSettings) -> Result:
    page = _service(settings).list(None, args.tenant, State(args.state), cursor=args.cursor, limit=args.limit)
    lines = [_line(view) for view in page["data"]]
    if page["next_cursor"]:
        lines.append(f"more: --cursor {page['next_cursor']}")
    where = f"tenant {args.tenant}" if args.tenant else "any tenant"
    return page, "\n".join(lines) or f"no {args.state} review items for {where}"


def _show(args: argparse.Namespace, settings: AdminSettings) -> Result:
    item = _service(settings).get(None, args.review_id)
    texts = [f"  [{i}] {text}" for i, text in enumerate(item["texts"])]
    notes = []
    if item["truncated"]:
        notes.append("  (the first text was cut to the item's size bound)")
    if item["texts_omitted"]:
        notes.append(f"  ({item['texts_omitted']} more matched texts were not kept)")
    context = f"  request={item['request_id']} key={item['key_id']} policy={item['policy_version']}"
    return item, "\n".join([_line(item), context, *texts, *notes])


def _claim(args: argparse.Namespace, settings: AdminSettings) -> Result:
    item = _service(settings).claim(None, args.review_id)
    return item, f"claimed {item['review_id']} until {_when(item['claim_expires_at'])}"


def _resolve(args: argparse.Namespace, settings: AdminSettings) -> Result:
    decision = Decision(args.decision)
    item = _service(settings).resolve(None, args.review_id, decision, suspend_key=args.suspend_key)
    suspended = f"; key {item['key_id']} revoked" if item["suspend_key"] else ""
    return item, f"resolved {item['review_id']}: {item['decision']}{suspended}"


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("review", "list"): _list,
    ("review", "show"): _show,
    ("review", "claim"): _claim,
    ("review", "resolve"): _resolve,
}


def _listed_tenant(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    return str(args.tenant).strip() if args.tenant else None


def _item_tenant(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    """The item's tenant (its chain records the review), looked up before the command runs."""
    if not is_review_id(str(args.review_id)):
        return None
    return _service(settings).tenant_of(str(args.review_id))  # type: ignore[no-any-return]


def _noted(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """As ``/admin/reviews`` notes it: the item (a checked id, never raw text), the decision and
    a revoked key."""
    if is_review_id(str(args.review_id)):
        draft.reason_codes.append(f"review.{args.review_id}")
    if getattr(args, "decision", None):
        draft.reason_codes.append(f"review.{Decision(args.decision).value}")
    if document is not None and document.get("suspend_key"):
        draft.reason_codes.append(f"key.{document['key_id']}")


#: How each command is audited (`steward.cli_record`), as the admin routes are.
AUDITED: dict[tuple[str, str], Audited] = {
    ("review", "list"): Audited("admin.review_list", _listed_tenant),
    ("review", "show"): Audited("admin.review_show", _item_tenant, describe=_noted),
    ("review", "claim"): Audited("admin.review_claim", _item_tenant, mutates=True, describe=_noted),
    ("review", "resolve"): Audited("admin.review_resolve", _item_tenant, mutates=True, describe=_noted),
}
