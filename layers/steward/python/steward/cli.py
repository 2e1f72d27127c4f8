"""``steward`` command line: manage API keys and the model registry of a stage.

Reads the same ``STEWARD_*`` variables as the Lambdas (and ``AWS_ENDPOINT_URL`` for moto).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from steward import admin
from steward.errors import CardIncomplete


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steward", description=__doc__)
    groups = parser.add_subparsers(dest="group", required=True)

    keys = groups.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key (printed once)")
    create.add_argument("--tenant", required=True)
    create.add_argument("--models", required=True, help="comma-separated model names, or '*'")
    create.add_argument("--admin", action="store_true", help="grant the admin scope")
    create.add_argument("--expires-days", type=float, default=None)
    create.add_argument("--name", default="")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")

    models = groups.add_parser("models", help="model registry").add_subparsers(dest="action", required=True)
    register = models.add_parser("register", help="register a model version")
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
    register.add_argument("--approve", action="store_true", help="register as approved")
    register.add_argument("--no-default", action="store_true", help="keep the current default version")
    approve = models.add_parser("approve", help="set a version's approval state")
    approve.add_argument("model")
    approve.add_argument("version")
    approve.add_argument("--state", default="approved")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.group == "keys" and args.action == "create":
        token, record = admin.create_api_key(
            args.tenant,
            models=args.models.split(","),
            admin=args.admin,
            expires_days=args.expires_days,
            name=args.name,
        )
        print(json.dumps({"key_id": record.key_id, "tenant_id": record.tenant_id, "api_key": token}))
        print("Store this key now: it is shown only once.", file=sys.stderr)
    elif args.group == "keys" and args.action == "revoke":
        admin.revoke_api_key(args.key_id)
        print(json.dumps({"key_id": args.key_id, "revoked": True}))
    elif args.group == "models" and args.action == "register":
        target = (
            {"kind": "sagemaker", "endpoint_name": args.endpoint, "variant": args.variant,
             "target_model": args.target_model}
            if args.endpoint
            else {"kind": "http", "url": args.url}
        )  # fmt: skip
        approval = "approved" if args.approve else None
        if args.manifest:
            with open(args.manifest, encoding="utf-8") as handle:
                manifest = json.load(handle)
            mv = admin.register_from_manifest(
                manifest, target=target, approval=approval, make_default=not args.no_default
            )
        else:
            if not args.model or not args.version:
                print("--model and --version are required without --manifest", file=sys.stderr)
                return 2
            mv = admin.register_model(
                args.model,
                args.version,
                target=target,
                approval=approval or "pending",
                backend_model=args.backend_model,
                backend_version=args.backend_version,
                artifact_digest=args.digest,
                task=args.task,
                make_default=not args.no_default,
            )
        print(json.dumps({"model": mv.model, "version": mv.version, "approval": mv.approval}))
    elif args.group == "models" and args.action == "approve":
        try:
            mv = admin.set_approval(args.model, args.version, args.state)
        except CardIncomplete as error:
            print(json.dumps({"error": error.code, "missing_fields": error.missing}))
            print(f"not approved: {error.detail}", file=sys.stderr)
            return 3
        print(json.dumps({"model": mv.model, "version": mv.version, "approval": mv.approval}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
