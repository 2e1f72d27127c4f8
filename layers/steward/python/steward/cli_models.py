"""``steward models route|promote|rollback|retire|show``: steering a model's versions.

The same service as the platform-admin routes (`steward.catalog.lifecycle.ModelLifecycle`),
written straight to the stage's registry table; every warm api process applies a change within
5 s. Registered in `steward.cli`, which handles ``--json``, the target stage, errors and the audit
record (`steward.cli_record`, in ``@platform``'s chain: models belong to no tenant).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from steward import admin
from steward.audit.record import AuditDraft
from steward.catalog.lifecycle import LIFECYCLE_REASONS
from steward.cli_record import Audited
from steward.settings import AdminSettings
from steward.ttl_cache import FRESHNESS_BOUND_S

Result = tuple[dict[str, Any], str]


def add_parsers(models: Any, common: argparse.ArgumentParser) -> None:
    """The steering actions, under ``steward models``."""
    route = models.add_parser("route", parents=[common], help="split, shadow or pin a model's traffic")
    route.add_argument("model")
    route.add_argument("--weights", help="VERSION=WEIGHT,... e.g. 1=90,2=10 (approved versions only)")
    shadow = route.add_mutually_exclusive_group()
    shadow.add_argument("--shadow", metavar="VERSION", help="copy routed traffic to VERSION, never answer")
    shadow.add_argument("--no-shadow", action="store_true", help="end the shadow copy")
    sticky = route.add_mutually_exclusive_group()
    sticky.add_argument("--sticky", action="store_true", default=None, help="one version per API key")
    sticky.add_argument("--no-sticky", dest="sticky", action="store_false", help="draw per request")
    _reason(route, "canary")

    promote = models.add_parser("promote", parents=[common], help="make a version take all traffic")
    promote.add_argument("model")
    promote.add_argument("version")
    _reason(promote, "release")

    rollback = models.add_parser("rollback", parents=[common], help="back to the previous default")
    rollback.add_argument("model")
    rollback.add_argument("version", nargs="?", help="an approved version (default: the previous default)")
    _reason(rollback, "incident")

    retire = models.add_parser("retire", parents=[common], help="withdraw a version for good")
    retire.add_argument("model")
    retire.add_argument("version")
    retire.add_argument(
        "--default", dest="new_default", metavar="VERSION", help="successor if it is the default"
    )
    retire.add_argument("--take-offline", action="store_true", help="retire the only approved version")
    _reason(retire, "superseded")

    show = models.add_parser("show", parents=[common], help="routing and version history of a model")
    show.add_argument("model")


def _reason(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--reason", default=default, choices=LIFECYCLE_REASONS, help="reason code (shown on the model card)"
    )


def _routing_summary(view: Mapping[str, Any]) -> str:
    split = ", ".join(f"{v}={w}" for v, w in view["effective_weights"].items()) or "nothing"
    shadow = f"; shadow {view['shadow']}" if view.get("shadow") else ""
    sticky = " (sticky per key)" if view.get("sticky") else ""
    return (
        f"{view['model']}: traffic {split}{sticky}{shadow}; default {view['default_version']} "
        f"(in force within {FRESHNESS_BOUND_S:g} s)"
    )


def _route(args: argparse.Namespace, settings: AdminSettings) -> Result:
    view = admin.model_lifecycle(settings=settings).route(
        args.model,
        weights=args.weights,
        shadow="" if args.no_shadow else args.shadow,
        sticky=args.sticky,
        actor=admin.CLI_ACTOR,
        reason=args.reason,
    )
    return view, _routing_summary(view)


def _promote(args: argparse.Namespace, settings: AdminSettings) -> Result:
    lifecycle = admin.model_lifecycle(settings=settings)
    view = lifecycle.promote(args.model, args.version, actor=admin.CLI_ACTOR, reason=args.reason)
    return view, _routing_summary(view)


def _rollback(args: argparse.Namespace, settings: AdminSettings) -> Result:
    lifecycle = admin.model_lifecycle(settings=settings)
    view = lifecycle.rollback(args.model, args.version, actor=admin.CLI_ACTOR, reason=args.reason)
    return view, _routing_summary(view)


def _retire(args: argparse.Namespace, settings: AdminSettings) -> Result:
    admin.set_approval(
        args.model,
        args.version,
        "retired",
        new_default=args.new_default,
        take_offline=args.take_offline,
        reason=args.reason,
        settings=settings,
    )
    view = admin.model_lifecycle(settings=settings).routing(args.model)
    return view, f"{args.model}@{args.version} retired; " + _routing_summary(view)


def _show(args: argparse.Namespace, settings: AdminSettings) -> Result:
    lifecycle = admin.model_lifecycle(settings=settings)
    view = {**lifecycle.routing(args.model), "history": lifecycle.history(args.model)}
    lines = [_routing_summary(view)] + [
        f"{e['at']}\t{e['event']}\t{e['version']}\t{e['reason']}\t{e['actor']}" for e in view["history"]
    ]
    return view, "\n".join(lines)


def _model_version(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """The model (and version, where the command names one) the command steered."""
    if document is not None:
        draft.model = str(document.get("model") or "")
        version = getattr(args, "version", None)
        draft.model_version = str(version or document.get("default_version") or "")


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("models", "route"): _route,
    ("models", "promote"): _promote,
    ("models", "rollback"): _rollback,
    ("models", "retire"): _retire,
    ("models", "show"): _show,
}
AUDITED: dict[tuple[str, str], Audited] = {
    ("models", "route"): Audited("admin.model_route", mutates=True, describe=_model_version),
    ("models", "promote"): Audited("admin.model_promote", mutates=True, describe=_model_version),
    ("models", "rollback"): Audited("admin.model_rollback", mutates=True, describe=_model_version),
    ("models", "retire"): Audited("admin.model_retire", mutates=True, describe=_model_version),
    ("models", "show"): Audited("admin.model_show", describe=_model_version),
}
