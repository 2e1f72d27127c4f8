"""``steward`` command line: the operator's side of the admin API (keys, models, tenants, kill
switches, limits, usage policies, the audit trail) for one stage.

Target: the ``STEWARD_*`` / ``AWS_*`` environment the Lambdas get wins; with none set, the local
stack's ``.steward/local.json`` (written by ``make up``; see ``--local-state``) is used.
Audit: every command, reads included, leaves one record in the affected tenant's audit chain
(``@platform`` for actions on no tenant), like an admin API request; the operator is named by a
keyed digest of their AWS identity, never by it.
Output: a short human summary, or with ``--json`` one JSON document on stdout (errors too:
``{"error": <stable code>, "detail": ...}``). Every failure is also one line on stderr.
Exit codes: 0 done; 1 refused (unknown key or version, default-version conflict, AWS error);
2 usage or invalid input; 3 model card incomplete; 4 audit chain broken (``audit verify``);
5 done, but its audit record could not be written (the change stands, the result is withheld).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from steward import (
    admin,
    cli_audit,
    cli_batches,
    cli_controls,
    cli_limits,
    cli_models,
    cli_policies,
    cli_review,
)
from steward.audit.record import AuditDraft
from steward.auth.lifecycle import DEFAULT_OVERLAP_HOURS, MAX_LIMIT, MAX_OVERLAP_HOURS, key_view
from steward.catalog.registry import APPROVALS
from steward.cli_publish import add_publish_parser
from steward.cli_record import (
    EXIT_AUDIT_FAILED,
    Audited,
    AuditNotWritten,
    Recording,
    noted_keys,
    tenant_arg,
)
from steward.errors import AuditUnavailable, CardIncomplete, StewardError
from steward.settings import AdminSettings

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CARD_INCOMPLETE = 0, 1, 2, 3
DEFAULT_LOCAL_STATE = Path(".steward/local.json")

Result = tuple[dict[str, Any], str]  # (JSON document, human summary)
#: Commands whose result holds a new key's secret: said on stderr once the result is shown.
SHOWN_ONCE = frozenset({("keys", "create"), ("keys", "rotate")})


class CliError(Exception):
    """A failure reported as one line (and a JSON document with ``--json``)."""

    def __init__(self, code: str, message: str, exit_code: int, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = " ".join(message.split())  # always one line
        self.exit_code = exit_code
        self.extra = extra


class _Parser(argparse.ArgumentParser):
    """Usage errors become a `CliError` (so ``--json`` gets them as JSON too), not an exit."""

    def error(self, message: str) -> NoReturn:
        raise CliError("cli.usage", f"{message} (see: {self.prog} --help)", EXIT_USAGE)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not (math.isfinite(value) and 0 < value <= admin.MAX_KEY_DAYS):
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {admin.MAX_KEY_DAYS} days")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_LIMIT}")
    return value


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_OVERLAP_HOURS):
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_OVERLAP_HOURS:g} hours")
    return value


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: a subcommand's flag must not reset one given before the subcommand.
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON on stdout")
    parser = _Parser(
        prog="steward", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout (results and errors)")
    parser.add_argument(
        "--local-state", type=Path, default=DEFAULT_LOCAL_STATE, help="local stack state file"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of unexpected errors")
    groups = parser.add_subparsers(dest="group", required=True)

    keys = groups.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", parents=[common], help="create a key (printed once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--models", required=True, help="comma-separated model names, or '*'")
    create.add_argument("--admin", action="store_true", help="grant the admin scope (its own tenant)")
    create.add_argument(
        "--platform-admin", action="store_true", help="grant the platform-admin scope (every tenant)"
    )
    create.add_argument("--rpm", type=_limit, default=None, help="the key's own requests per minute")
    create.add_argument("--daily", type=_limit, default=None, help="the key's own requests per day")
    create.add_argument("--monthly", type=_limit, default=None, help="the key's own requests per month")
    create.add_argument("--expires-days", type=_days, default=None, help="lifetime in days (default: none)")
    create.add_argument("--name", default="")
    listing = keys.add_parser("list", parents=[common], help="a tenant's keys (metadata, never secrets)")
    listing.add_argument("--tenant", required=True)
    rotate = keys.add_parser("rotate", parents=[common], help="a successor key (printed once)")
    rotate.add_argument("key_id")
    rotate.add_argument(
        "--overlap-hours",
        type=_hours,
        default=DEFAULT_OVERLAP_HOURS,
        help=f"how long the old key keeps working (default {DEFAULT_OVERLAP_HOURS:g}, at most "
        f"{MAX_OVERLAP_HOURS:g})",
    )
    revoke = keys.add_parser("revoke", parents=[common], help="revoke a key")
    revoke.add_argument("key_id")

    models = groups.add_parser("models", help="model registry").add_subparsers(dest="action", required=True)
    register = models.add_parser("register", parents=[common], help="register a model version")
    register.add_argument("--manifest", help="manifest.json of the model repository")
    register.add_argument("--model")
    register.add_argument("--version")
    where = register.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="OIP HTTP backend base URL ('' = STEWARD_BACKEND_URL)")
    where.add_argument("--endpoint", help="SageMaker endpoint name")
    register.add_argument("--variant", default="")
    register.add_argument("--target-model", default="")
    register.add_argument("--backend-model")
    register.add_argument("--backend-version")
    register.add_argument("--task", default="")
    register.add_argument("--digest", default="")
    register.add_argument("--card", type=Path, help="model card JSON (without --manifest)")
    register.add_argument("--approve", action="store_true", help="register as approved (complete card)")
    register.add_argument(
        "--no-default", action="store_true", help="an approved version does not take over the default"
    )
    approve = models.add_parser("approve", parents=[common], help="set a version's approval state")
    approve.add_argument("model")
    approve.add_argument("version")
    approve.add_argument("--state", default="approved", choices=APPROVALS)
    approve.add_argument("--make-default", action="store_true", help="approved: make it the default")
    approve.add_argument(
        "--default",
        dest="new_default",
        metavar="VERSION",
        help="withdrawing the default: the approved successor",
    )
    approve.add_argument(
        "--take-offline", action="store_true", help="withdraw the only approved version (model offline)"
    )
    cli_models.add_parsers(models, common)  # route, promote, rollback, retire, show
    add_publish_parser(models, common)  # models publish (registers its command too)
    cli_controls.add_parsers(groups, common)  # tenants, kill
    cli_audit.add_parsers(groups, common)  # audit export|verify
    cli_limits.add_parsers(groups, common)  # limits set|show, usage show
    cli_batches.add_parsers(groups, common)  # batches show|redrive
    cli_policies.add_parsers(groups, common)  # policies usage put|get|list
    cli_review.add_parsers(groups, common)  # review list|show|claim|resolve
    return parser


# -- commands -------------------------------------------------------------------------------------


def _keys_create(args: argparse.Namespace, settings: AdminSettings) -> Result:
    token, record = admin.create_api_key(
        args.tenant,
        models=args.models.split(","),
        admin=args.admin,
        platform_admin=args.platform_admin,
        rpm=args.rpm,
        daily=args.daily,
        monthly=args.monthly,
        expires_days=args.expires_days,
        name=args.name,
        settings=settings,
    )
    document = {"key": token, **key_view(record, time.time())}
    return document, f"API key {record.key_id} for tenant {record.tenant_id}:\n{token}"


def _keys_list(args: argparse.Namespace, settings: AdminSettings) -> Result:
    now = time.time()
    views = [key_view(r, now) for r in admin.list_api_keys(args.tenant, settings=settings)]
    lines = [
        f"{v['key_id']}  {v['status']:<7}  scopes={','.join(v['scopes']) or '-'}  "
        f"models={','.join(v['models'])}  expires={_when(v['expires_at'])}"
        + (f"  rotated-to={v['rotated_to']}" if v["rotated_to"] else "")
        + (f"  name={v['name']}" if v["name"] else "")
        for v in views
    ]
    summary = "\n".join(lines) if lines else f"no keys for tenant {args.tenant}"
    return {"object": "list", "tenant_id": args.tenant, "data": views}, summary


def _keys_rotate(args: argparse.Namespace, settings: AdminSettings) -> Result:
    token, successor, old = admin.rotate_api_key(
        args.key_id, overlap_hours=args.overlap_hours, settings=settings
    )
    now = time.time()
    document = {"key": token, **key_view(successor, now), "previous": key_view(old, now)}
    until = _when(old.expires_at)
    summary = f"API key {successor.key_id} replaces {old.key_id} (which works until {until}):\n{token}"
    return document, summary


def _keys_revoke(args: argparse.Namespace, settings: AdminSettings) -> Result:
    record = admin.revoke_api_key(args.key_id, settings=settings)
    summary = f"revoked {args.key_id} (refused everywhere within {settings.auth_cache_ttl_s:g} s)"
    return key_view(record, time.time()), summary


def _when(epoch: int | None) -> str:
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _models_register(args: argparse.Namespace, settings: AdminSettings) -> Result:
    target: dict[str, str] = (
        {"kind": "sagemaker", "endpoint_name": args.endpoint, "variant": args.variant,
         "target_model": args.target_model}
        if args.endpoint
        else {"kind": "http", "url": args.url}
    )  # fmt: skip
    approval = "approved" if args.approve else None
    if args.manifest:
        manifest = read_json(Path(args.manifest), "manifest")
        if not isinstance(manifest.get("name"), str) or not isinstance(manifest.get("version"), str):
            raise CliError("input.invalid", f"{args.manifest}: needs string 'name' and 'version'", EXIT_USAGE)
        mv = admin.register_from_manifest(
            manifest, target=target, approval=approval, make_default=not args.no_default, settings=settings
        )
    else:
        if not args.model or not args.version:
            raise CliError("cli.usage", "--model and --version are required without --manifest", EXIT_USAGE)
        mv = admin.register_model(
            args.model,
            args.version,
            target=target,
            approval=approval or "pending",
            backend_model=args.backend_model,
            backend_version=args.backend_version,
            artifact_digest=args.digest,
            task=args.task,
            card=read_json(args.card, "card") if args.card else None,
            make_default=not args.no_default,
            settings=settings,
        )
    document = _version_document(mv.model, mv.version, mv.approval, settings)
    ref, default = f"{mv.model}@{mv.version}", document["default_version"]
    if document["is_default"]:
        summary = f"registered {ref} ({mv.approval}); it is the default version"
    elif default is None:
        summary = (
            f"registered {ref} ({mv.approval}); no approved version serves {mv.model} yet "
            f"(approve: steward models approve {mv.model} {mv.version})"
        )
    else:
        summary = (
            f"registered {ref} ({mv.approval}); {mv.model}@{default} stays the default "
            f"(switch once approved: steward models approve {mv.model} {mv.version} --make-default)"
        )
    return document, summary


def _models_approve(args: argparse.Namespace, settings: AdminSettings) -> Result:
    mv = admin.set_approval(
        args.model,
        args.version,
        args.state,
        make_default=args.make_default,
        new_default=args.new_default,
        take_offline=args.take_offline,
        settings=settings,
    )
    document = _version_document(mv.model, mv.version, mv.approval, settings)
    default = document["default_version"]
    serving = f"{mv.model}@{default}" if default else "nothing (model offline)"
    return document, f"{mv.model}@{mv.version} is {mv.approval}; default: {serving}"


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {
    ("keys", "create"): _keys_create,
    ("keys", "list"): _keys_list,
    ("keys", "rotate"): _keys_rotate,
    ("keys", "revoke"): _keys_revoke,
    ("models", "register"): _models_register,
    ("models", "approve"): _models_approve,
}
COMMANDS.update(cli_models.COMMANDS)
COMMANDS.update(cli_controls.COMMANDS)
COMMANDS.update(cli_audit.COMMANDS)
COMMANDS.update(cli_limits.COMMANDS)
COMMANDS.update(cli_batches.COMMANDS)
COMMANDS.update(cli_policies.COMMANDS)
COMMANDS.update(cli_review.COMMANDS)


def _key_owner(args: argparse.Namespace, settings: AdminSettings) -> str | None:
    return admin.key_tenant(args.key_id, settings=settings)


def _model_version(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """A registered version's name (the registry's, not merely typed) and its approval state."""
    if document is not None:
        draft.model, draft.model_version = document["model"], document["version"]
        draft.reason_codes.append(f"approval.{document['approval']}")


#: How each command is audited (`steward.cli_record`): every command in `COMMANDS` has one.
AUDITED: dict[tuple[str, str], Audited] = {
    ("keys", "create"): Audited(
        "admin.key_create", tenant_arg, mutates=True, created=True, describe=noted_keys
    ),
    ("keys", "list"): Audited("admin.key_list", tenant_arg),
    ("keys", "rotate"): Audited(
        "admin.key_rotate", _key_owner, mutates=True, created=True, describe=noted_keys
    ),
    ("keys", "revoke"): Audited("admin.key_revoke", _key_owner, mutates=True, describe=noted_keys),
    ("models", "register"): Audited(
        "admin.model_register", mutates=True, created=True, describe=_model_version
    ),
    ("models", "approve"): Audited("admin.model_approve", mutates=True, describe=_model_version),
}
AUDITED.update(cli_models.AUDITED)
AUDITED.update(cli_controls.AUDITED)
AUDITED.update(cli_audit.AUDITED)
AUDITED.update(cli_limits.AUDITED)
AUDITED.update(cli_policies.AUDITED)
AUDITED.update(cli_review.AUDITED)
AUDITED.update(cli_batches.AUDITED)


def _version_document(model: str, version: str, approval: str, settings: AdminSettings) -> dict[str, Any]:
    default = admin.default_version(model, settings=settings)
    return {
        "model": model,
        "version": version,
        "approval": approval,
        "default_version": default,
        "is_default": default == version,
    }


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a file the operator names; errors name the file, never its content."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CliError(
            "input.invalid", f"cannot read the {what} {path}: {error.strerror}", EXIT_USAGE
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CliError("input.invalid", f"the {what} {path} is not valid JSON", EXIT_USAGE) from None
    if not isinstance(data, dict):
        raise CliError("input.invalid", f"the {what} {path} must be a JSON object", EXIT_USAGE)
    return data


# -- target and errors ----------------------------------------------------------------------------


@contextmanager
def _target(local_state: Path) -> Iterator[AdminSettings]:
    """Settings from the environment, or from the local stack's state file when none is set."""
    from steward import cli_target

    config = cli_target.load(local_state, os.environ)
    if config is None:
        yield AdminSettings()
        return
    from steward.adapters.aws import reset_clients

    saved = {name: os.environ.get(name) for name in config.environment}
    os.environ.update(config.environment)
    reset_clients()
    try:
        yield AdminSettings.model_validate(config.settings)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_clients()


def _as_cli_error(error: Exception) -> CliError | None:
    """A known failure as one line with a stable code; None for the unexpected."""
    from pydantic import ValidationError

    from steward.cli_target import LocalStateError

    if isinstance(error, CliError):
        return error
    if isinstance(error, AuditNotWritten):
        return CliError(
            AuditUnavailable.code,
            error.message,
            EXIT_AUDIT_FAILED,
            done=error.done,
            request_id=error.request_id,
        )
    if isinstance(error, CardIncomplete):
        return CliError(error.code, error.detail, EXIT_CARD_INCOMPLETE, missing_fields=error.missing)
    if isinstance(error, StewardError):
        return CliError(error.code, error.detail, EXIT_USAGE if error.status in (400, 422) else EXIT_REFUSED)
    if isinstance(error, LocalStateError):
        return CliError("config.invalid", str(error), EXIT_USAGE)
    if isinstance(error, ValidationError):  # AdminSettings from STEWARD_* (name fields, not values)
        fields = sorted({".".join(str(p) for p in e["loc"]) or e["msg"] for e in error.errors()})
        return CliError("config.invalid", f"invalid STEWARD_* settings: {', '.join(fields)}", EXIT_USAGE)
    if isinstance(error, ValueError):
        return CliError("input.invalid", str(error), EXIT_USAGE)
    return _aws_error(error)


def _aws_error(error: Exception) -> CliError | None:
    """AWS failures: say what to check, with AWS's error code (never its full message)."""
    from steward.adapters.aws import describe_failure

    described = describe_failure(error)
    return CliError(*described, EXIT_REFUSED) if described is not None else None


def _unexpected(error: Exception) -> CliError:
    return CliError(
        "cli.internal", f"unexpected {type(error).__name__}; rerun with --debug for details", EXIT_REFUSED
    )


def _status_of(error: Exception, known: CliError) -> int:
    """The HTTP status the admin API answers for the same failure (the audit record's ``status``)."""
    if isinstance(error, StewardError):
        return error.status
    if isinstance(error, CliError):
        return 422 if error.exit_code in (EXIT_USAGE, EXIT_CARD_INCOMPLETE) else 409
    if isinstance(error, ValueError):
        return 422
    return 503 if known.code.startswith("aws.") else 500


def _document(error: CliError) -> dict[str, Any]:
    return {"error": error.code, "detail": error.message, **error.extra}


def _report(error: CliError, as_json: bool) -> int:
    print(f"steward: {error.message} [{error.code}]", file=sys.stderr)
    if as_json:
        print(json.dumps(_document(error)))
    return error.exit_code


def _audited(args: argparse.Namespace, settings: AdminSettings, as_json: bool, debug: bool) -> str:
    """Run the command inside its audit record (`steward.cli_record`); the text to print.

    The record is begun first (a failure there refuses the command, nothing done) and written
    after; the result is printed only once it is written.
    """
    command = (args.group, args.action)
    recording = Recording.begin(args, settings, AUDITED[command])
    try:
        with recording.running():
            document, summary = COMMANDS[command](args, settings)
    except Exception as error:
        known = _as_cli_error(error)
        shown = known or _unexpected(error)
        if not recording.failed(shown.code, _status_of(error, shown), json.dumps(_document(shown))):
            shown.message += "; its audit record could not be written either"
        if known is None and debug:
            raise
        raise shown from None
    # A streaming command (``audit export``) has written its own output already.
    output = (json.dumps(document) if as_json else summary) if (document or summary) else ""
    recording.done(document, output)
    if command in SHOWN_ONCE:
        print("Store this key now: it is shown only once.", file=sys.stderr)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv  # known before parsing, so usage errors can be JSON too
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        as_json = bool(args.json)
        with _target(args.local_state) as settings:
            output = _audited(args, settings, as_json, debug)
    except Exception as error:
        known = _as_cli_error(error)
        if known is None:
            if debug:
                raise
            known = _unexpected(error)
        return _report(known, as_json)
    if output:
        print(output)
    return EXIT_OK


if __name__ == "__main__":
    # ``python -m steward.cli``: run the one ``steward.cli`` module (the command modules import its
    # errors from there), not this ``__main__`` copy, whose `CliError` would be another class.
    from steward.cli import main as _main

    raise SystemExit(_main())
