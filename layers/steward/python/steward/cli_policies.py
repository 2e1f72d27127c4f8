"""``steward policies usage put|get|list``: a tenant's usage policy versions (`steward.usage_policy`).

The same operations as ``PUT``/``GET /admin/usage-policies/{tenant}[?model=M]``, through the
same book (`steward.usage_policy.book.UsagePolicyBook`): ``put`` validates the document exactly
as the API does and stores it as the scope's next version (an invalid one exits 2 with the API's
422 code, ``input.invalid``, naming fields, never their content); ``--model`` must name a
registered model (else 1, ``model.not_found``). ``get`` shows the version in force for the tenant
(or for ``--model``: its own scope, else the tenant's), or ``--version N`` of the scope;
``list`` the versions with their metadata (rule names and counts, not the rules). Every warm api
process applies a new version within 5 s. Registered in `steward.cli`; audited in the tenant's
chain with the API's reason code, ``admin.usage_policies``.
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
GROUP = "policies usage"  # `steward.cli` keys commands by (group, action)
MAX_MODEL_CHARS = 200  # as the API's ``?model=``


def _version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("versions start at 1")
    return value


def add_parsers(groups: Any, common: argparse.ArgumentParser) -> None:
    """The ``policies`` group (``usage`` for now), under ``steward``'s subparsers."""
    kinds = groups.add_parser("policies", help="policies").add_subparsers(dest="kind", required=True)
    usage = kinds.add_parser("usage", help="usage policies: word lists, patterns, denied topics")
    usage.set_defaults(group=GROUP)
    actions = usage.add_subparsers(dest="action", required=True)
    model_help = "a registered model's own policy (default: the tenant's, for every model)"
    put = actions.add_parser("put", parents=[common], help="store a document as the next version")
    put.add_argument("--tenant", required=True)
    put.add_argument("--model", help=model_help)
    put.add_argument("--file", type=Path, required=True, help="the usage policy document (JSON)")
    get = actions.add_parser("get", parents=[common], help="the version in force, or --version N")
    get.add_argument("--tenant", required=True)
    get.add_argument("--model", help="the policy in force for this model (its own, else the tenant's)")
    get.add_argument("--version", type=_version, help="this version of the scope instead")
    listing = actions.add_parser("list", parents=[common], help="stored versions (metadata, not rules)")
    listing.add_argument("--tenant", required=True)
    listing.add_argument("--model", help="only this model's own versions")


def _book(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_usage_policies

    return build_usage_policies(settings)


def _tenant(args: argparse.Namespace) -> str:
    from steward.controls.model import TENANT_ID
    from steward.errors import InvalidInput

    tenant = str(args.tenant).strip()
    if not TENANT_ID.fullmatch(tenant):
        raise InvalidInput("--tenant: 1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit")
    return tenant


def _model(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    """``--model``, only when it names a registered model (the API's ``?model=`` rule)."""
    from steward import admin
    from steward.errors import InvalidInput, ModelNotFound

    model: str | None = args.model
    if model is None:
        return None
    if not 1 <= len(model) <= MAX_MODEL_CHARS:
        raise InvalidInput(f"--model: 1 to {MAX_MODEL_CHARS} characters")
    if not admin.is_registered(model, settings=settings):
        raise ModelNotFound()
    return model


def _scope(policy: Any) -> str:
    return "tenant default" if policy.model is None else f"model {policy.model}"


def _put(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.cli import read_json

    tenant = _tenant(args)
    document = read_json(args.file, "usage policy")
    saved = _book(settings).save(tenant, _model(args, settings), document, author=CLI_AUTHOR)
    summary = (
        f"usage policy of {tenant} ({_scope(saved)}) is version {saved.version} "
        f"(in force within {FRESHNESS_BOUND_S:g} s)"
    )
    return saved.model_dump(mode="json"), summary


def _get(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward.usage_policy.errors import UsagePolicyNotFound

    tenant, model, book = _tenant(args), _model(args, settings), _book(settings)
    if args.version is None:
        policy = book.current(tenant, model)
    else:
        scope = book.history(tenant, model, all_scopes=False)
        policy = next((p for p in scope if p.version == args.version), None)
    if policy is None:
        raise UsagePolicyNotFound()
    document = policy.model_dump(mode="json")
    rules = {k: v for k, v in document.items() if k not in ("tenant_id", "model", "version")}
    summary = f"{tenant} ({_scope(policy)}) version {policy.version}:\n{json.dumps(rules, indent=2)}"
    return document, summary


def _list(args: argparse.Namespace, settings: AdminSettings) -> Result:
    tenant, model = _tenant(args), _model(args, settings)
    policies = _book(settings).history(tenant, model, all_scopes=model is None)
    newest: dict[str | None, int] = {}
    for p in policies:
        newest[p.model] = max(newest.get(p.model, 0), p.version)
    views = [
        {
            "tenant_id": p.tenant_id,
            "model": p.model,
            "version": p.version,
            "in_force": p.version == newest[p.model],  # the newest of its scope is the one applied
            "apply_to": [d.value for d in p.apply_to],
            "rules": {
                "denied_topics": [r.name for r in p.denied_topics],
                "word_lists": [r.name for r in p.word_lists],
                "patterns": [r.name for r in p.patterns],
            },
        }
        for p in policies
    ]
    lines = [
        f"{_scope(p):<30} v{p.version:<5} {'in force' if v['in_force'] else '        '}  "
        f"apply_to={','.join(v['apply_to'])}  topics={len(p.denied_topics)} "
        f"word_lists={len(p.word_lists)} patterns={len(p.patterns)}"
        for p, v in zip(policies, views, strict=True)
    ]
    summary = "\n".join(lines) or f"no usage policy stored for {tenant}"
    return {"object": "list", "tenant_id": tenant, "data": views}, summary


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    (GROUP, "put"): _put,
    (GROUP, "get"): _get,
    (GROUP, "list"): _list,
}
AUDITED: dict[tuple[str, str], Audited] = {
    (GROUP, "put"): Audited("admin.usage_policies", tenant_arg, mutates=True, created=True),
    (GROUP, "get"): Audited("admin.usage_policies", tenant_arg),
    (GROUP, "list"): Audited("admin.usage_policies", tenant_arg),
}
