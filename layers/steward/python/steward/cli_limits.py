"""``steward limits set|show`` and ``steward usage show``: a tenant's plan and its counters.

The same operations as ``PUT``/``GET /admin/limits/{tenant}`` and ``GET /admin/usage/{tenant}``
(`steward.limits.admission.RateLimiter`), written straight to the stage's limits table; every
warm api process applies a new plan within 5 s. Registered in `steward.cli`; audited in the
tenant's chain with the routes' reason codes (``admin.limits``, ``admin.usage``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from steward.cli_record import Audited, tenant_arg
from steward.settings import AdminSettings
from steward.ttl_cache import FRESHNESS_BOUND_S

Result = tuple[dict[str, Any], str]
CLI_AUTHOR = "cli"
#: ``--tenant-rpm`` etc. and ``--key-rpm`` etc.: (scope, field) of the plan document.
_FLAGS = tuple(
    (scope, field)
    for scope in ("tenant", "key")
    for field in ("rpm", "daily", "monthly", "daily_units", "monthly_units")
)


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    limits = groups.add_parser("limits", help="rate limits and quotas").add_subparsers(
        dest="action", required=True
    )
    put = limits.add_parser("set", parents=[common], help="replace a tenant's plan")
    put.add_argument("--tenant", required=True)
    put.add_argument("--file", type=Path, help="plan document (JSON); the flags below override it")
    for scope, field in _FLAGS:
        flag = f"--{scope}-{field.replace('_', '-')}"
        put.add_argument(flag, type=int, dest=f"{scope}_{field}", metavar="N", help=f"{scope} {field}")
    put.add_argument("--exempt", action="append", default=None, metavar="KEY_ID", help="exempt admin key")
    show = limits.add_parser("show", parents=[common], help="a tenant's plan")
    show.add_argument("--tenant", required=True)
    usage = groups.add_parser("usage", help="usage counters").add_subparsers(dest="action", required=True)
    current = usage.add_parser("show", parents=[common], help="a tenant's current minute, day and month")
    current.add_argument("--tenant", required=True)


def _service(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_limits

    return build_limits(settings)


def _document(args: argparse.Namespace) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if args.file is not None:
        from steward.errors import InvalidInput

        try:
            document = json.loads(Path(args.file).read_text())
        except (OSError, ValueError):
            raise InvalidInput("--file must name a readable JSON plan document.") from None
        if not isinstance(document, dict):
            raise InvalidInput("A plan is a JSON object.")
    for scope, field in _FLAGS:
        value = getattr(args, f"{scope}_{field}")
        if value is not None:
            document.setdefault(scope, {})[field] = value
    if args.exempt is not None:
        document["exempt_keys"] = list(args.exempt)
    return document


def _limits_set(args: argparse.Namespace, settings: AdminSettings) -> Result:
    view = _service(settings).set_plan(args.tenant, _document(args), author=CLI_AUTHOR)
    summary = (
        f"plan of {args.tenant} is revision {view['revision']} (in force within {FRESHNESS_BOUND_S:g} s)"
    )
    return view, summary


def _limits_show(args: argparse.Namespace, settings: AdminSettings) -> Result:
    view = _service(settings).show_plan(args.tenant)
    origin = "default plan" if view["default"] else f"revision {view['revision']}"
    return view, f"{args.tenant} ({origin}): {json.dumps(view['plan'], sort_keys=True)}"


def _usage_show(args: argparse.Namespace, settings: AdminSettings) -> Result:
    usage = _service(settings).usage(args.tenant)
    lines = [f"{'scope':<40} {'minute':>8} {'day':>10} {'month':>12}"]
    rows = [("tenant", usage["tenant"])]
    rows += [(f"key {k}", v) for k, v in sorted(usage["keys"].items())]
    rows += [(f"model {m}", v) for m, v in sorted(usage["models"].items())]
    for name, counts in rows:
        minute, day, month = (counts[kind]["requests"] for kind in ("m", "d", "mo"))
        lines.append(f"{name:<40} {minute:>8} {day:>10} {month:>12}")
    return usage, "\n".join(lines)


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("limits", "set"): _limits_set,
    ("limits", "show"): _limits_show,
    ("usage", "show"): _usage_show,
}

AUDITED: dict[tuple[str, str], Audited] = {
    ("limits", "set"): Audited("admin.limits", tenant_arg, mutates=True),
    ("limits", "show"): Audited("admin.limits", tenant_arg),
    ("usage", "show"): Audited("admin.usage", tenant_arg),
}
