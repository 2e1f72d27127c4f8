"""``steward tenants create|list|suspend|resume`` and ``steward kill set|clear|list``.

The same operations as the platform-admin routes (`steward.controls.service`), written straight
to the stage's control table; every warm api process applies a change within 5 s. Registered in
`steward.cli` (parsers, commands, how each is audited), which handles ``--json``, the target
stage, errors and the audit record (`steward.cli_record`): a tenant's changes in its own chain,
global, model and version switches and the listings in ``@platform``'s.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from steward.cli_record import Audited, scope_kind, scope_tenant, tenant_arg
from steward.controls.model import DEFAULT_RETENTION_DAYS, REASON_CODES
from steward.settings import AdminSettings
from steward.ttl_cache import FRESHNESS_BOUND_S

Result = tuple[dict[str, Any], str]
#: Who the control items name as the author of a CLI change (not a person's name: a role).
CLI_AUTHOR = "cli"


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    """The ``tenants`` and ``kill`` groups, under ``steward``'s subparsers."""
    tenants = groups.add_parser("tenants", help="tenants").add_subparsers(dest="action", required=True)
    create = tenants.add_parser("create", parents=[common], help="create a tenant")
    create.add_argument("tenant")
    create.add_argument("--models", default="*", help="comma-separated allowed model names, or '*'")
    create.add_argument("--retention-days", type=int, default=DEFAULT_RETENTION_DAYS, help="audit retention")
    tenants.add_parser("list", parents=[common], help="list tenants")
    for action in ("suspend", "resume"):
        change = tenants.add_parser(action, parents=[common], help=f"{action} every key of a tenant")
        change.add_argument("tenant")
        _reason(change, note=True)

    kill = groups.add_parser("kill", help="kill switches").add_subparsers(dest="action", required=True)
    scope_help = "global | tenant:T | model:M | version:M@V"
    throw = kill.add_parser("set", parents=[common], help="throw a kill switch")
    throw.add_argument("--scope", required=True, help=scope_help)
    _reason(throw, note=True)
    clear = kill.add_parser("clear", parents=[common], help="clear a kill switch")
    clear.add_argument("--scope", required=True, help=scope_help)
    _reason(clear, note=False)
    kill.add_parser("list", parents=[common], help="list thrown kill switches")


def _reason(parser: argparse.ArgumentParser, *, note: bool) -> None:
    parser.add_argument("--reason", required=True, choices=REASON_CODES, help="reason code (callers see it)")
    if note:
        parser.add_argument("--note", default="", help="operator's note: kept for operators, never shown")


def _service(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_controls

    return build_controls(settings)


def _tenants_create(args: argparse.Namespace, settings: AdminSettings) -> Result:
    tenant = _service(settings).create_tenant(
        args.tenant,
        allowed_models=args.models.split(","),
        audit_retention_days=args.retention_days,
        by=CLI_AUTHOR,
    )
    models = ",".join(tenant.allowed_models)
    return tenant.public(), f"created tenant {tenant.tenant_id} (models: {models})"


def _tenants_list(args: argparse.Namespace, settings: AdminSettings) -> Result:
    tenants = _service(settings).list_tenants()
    lines = [f"{t.tenant_id}\t{t.status.value}\t{','.join(t.allowed_models)}" for t in tenants]
    return {"data": [t.public() for t in tenants]}, "\n".join(lines) or "no tenants"


def _tenants_status(suspend: bool) -> Callable[[argparse.Namespace, AdminSettings], Result]:
    def run(args: argparse.Namespace, settings: AdminSettings) -> Result:
        service = _service(settings)
        change = service.suspend if suspend else service.resume
        tenant = change(args.tenant, reason=args.reason, note=args.note, by=CLI_AUTHOR)
        state = "suspended" if suspend else "resumed"
        return tenant.public(), f"{state} tenant {tenant.tenant_id} (in force within {FRESHNESS_BOUND_S:g} s)"

    return run


def _kill_set(args: argparse.Namespace, settings: AdminSettings) -> Result:
    switch = _service(settings).set_switch(args.scope, reason=args.reason, note=args.note, by=CLI_AUTHOR)
    return switch.public(), f"kill switch {switch.scope} thrown (in force within {FRESHNESS_BOUND_S:g} s)"


def _kill_clear(args: argparse.Namespace, settings: AdminSettings) -> Result:
    cleared = _service(settings).clear_switch(args.scope, reason=args.reason)
    summary = f"kill switch {args.scope} cleared" if cleared else f"no kill switch was thrown at {args.scope}"
    return {"scope": args.scope, "cleared": cleared}, summary


def _kill_list(args: argparse.Namespace, settings: AdminSettings) -> Result:
    switches = _service(settings).list_switches()
    lines = [f"{s.scope}\t{s.reason}\tset by {s.set_by} at {s.set_at}" for s in switches]
    return {"data": [s.public() for s in switches]}, "\n".join(lines) or "no kill switch thrown"


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("tenants", "create"): _tenants_create,
    ("tenants", "list"): _tenants_list,
    ("tenants", "suspend"): _tenants_status(suspend=True),
    ("tenants", "resume"): _tenants_status(suspend=False),
    ("kill", "set"): _kill_set,
    ("kill", "clear"): _kill_clear,
    ("kill", "list"): _kill_list,
}

AUDITED: dict[tuple[str, str], Audited] = {
    ("tenants", "create"): Audited("admin.tenant_create", tenant_arg, mutates=True, created=True),
    ("tenants", "list"): Audited("admin.tenant_list"),
    ("tenants", "suspend"): Audited("admin.tenant_suspend", tenant_arg, mutates=True),
    ("tenants", "resume"): Audited("admin.tenant_resume", tenant_arg, mutates=True),
    ("kill", "set"): Audited("admin.kill_set", scope_tenant, mutates=True, created=True, describe=scope_kind),
    ("kill", "clear"): Audited("admin.kill_clear", scope_tenant, mutates=True, describe=scope_kind),
    ("kill", "list"): Audited("admin.kill_list"),
}
