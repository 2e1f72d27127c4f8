"""``steward models publish DIR --stage S``: put one built model version in front of a deployed
stage's inference endpoint and into its registry.

Order (`steward.catalog.publish`): verify every artifact of ``DIR`` against its manifest (nothing
is uploaded otherwise) -> find the stage's bucket and endpoint -> upload what is missing under
``models/<name>/<version>/``, each object's digest checked by S3 and read back -> register the
version (pending unless ``--approval approved``) with a SageMaker target on the stage's endpoint.

Where the stage is: the outputs of its CloudFormation stack ``Steward-<stage>``
(``ArtifactsBucket``, ``InferenceEndpoint``; `steward.adapters.stack_outputs`), read with the
operator's AWS credentials. The registry and the audit record are the CLI's usual target (the
``STEWARD_*`` environment, `steward.cli`); ``--stage`` must name the same stage, so the files and
the registry entry can't land in two different stages.

The endpoint (a SageMaker single-model endpoint) copies the ``models/`` prefix when its instances
start: a version published after that is served once the endpoint next rolls (`docs/deploy.md`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from steward.audit.record import AuditDraft
from steward.catalog.publish import ArtifactConflict, Publisher, read_version_directory
from steward.cli_record import Audited
from steward.settings import AdminSettings

Result = tuple[dict[str, Any], str]
COMMAND = ("models", "publish")
#: The stack outputs publish reads (`cdk.stack.StewardStack`).
BUCKET_OUTPUT, ENDPOINT_OUTPUT = "ArtifactsBucket", "InferenceEndpoint"


def add_publish_parser(models: Any, common: argparse.ArgumentParser) -> None:
    """``models publish`` under the ``models`` subparsers, and its command and audit entry in
    `steward.cli` (registered here, so the CLI's own module needs one line for it)."""
    from steward import cli

    publish = models.add_parser(
        "publish", parents=[common], help="verify, upload and register one model version directory"
    )
    publish.add_argument("directory", type=Path, help="the <name>/<version>/ directory (manifest.json)")
    publish.add_argument("--stage", required=True, help="the deployed stage (stack Steward-<stage>)")
    publish.add_argument("--approval", choices=("pending", "approved"), default="pending")
    publish.add_argument(
        "--default", action="store_true", help="an approved version takes over the model's default"
    )
    cli.COMMANDS[COMMAND] = _publish
    cli.AUDITED[COMMAND] = Audited("admin.model_publish", mutates=True, created=True, describe=_described)


def _publish(args: argparse.Namespace, settings: AdminSettings) -> Result:
    from steward import admin
    from steward.catalog import approval as rules
    from steward.catalog.cards import clean_card
    from steward.catalog.registry import Target
    from steward.cli import EXIT_USAGE, CliError

    if args.stage != settings.stage:
        raise CliError(
            "cli.usage",
            f"--stage {args.stage} but the CLI targets stage {settings.stage!r}: set STEWARD_STAGE="
            f"{args.stage} (and STEWARD_ACCOUNT, STEWARD_REGION) so the registry and audit are that stage's",
            EXIT_USAGE,
        )
    version = read_version_directory(args.directory)  # before any AWS call: refuse bad files first
    digest = model_digest(version.manifest)
    if args.approval == "approved":
        rules.require_complete_card(clean_card(version.manifest.get("card")), _task(version.manifest), digest)
    registry = _registry(settings)
    existing = registry.get_model(version.name).versions.get(version.version)
    if existing is not None and existing.artifact_digest != digest:
        raise ArtifactConflict(
            f"{version.name}@{version.version} is registered with other artifacts; publish a new version."
        )
    bucket, endpoint, owner = _stage_targets(args.stage, settings.region)
    result = Publisher(_store(bucket, settings.region, owner)).publish(version)
    target = Target(kind="sagemaker", endpoint_name=endpoint)
    if existing is None:
        mv = admin.register_from_manifest(
            version.manifest,
            target=target,
            approval=args.approval,
            make_default=args.default,
            settings=settings,
            store=registry,
        )
        state, registered = mv.approval, True
    else:  # a re-publish never changes an approval (`steward models approve` does)
        state, registered = existing.approval, False
    ref = f"{version.name}@{version.version}"
    document = {
        "model": version.name,
        "version": version.version,
        "approval": state,
        "registered": registered,
        "bucket": bucket,
        "prefix": result.prefix,
        "uploaded": [k.removeprefix(result.prefix) for k in result.uploaded],
        "unchanged": [k.removeprefix(result.prefix) for k in result.unchanged],
        "target": target.to_dict(),
    }
    copied = f"{len(result.uploaded)} uploaded, {len(result.unchanged)} already there"
    told = f"registered ({state})" if registered else f"already registered ({state}), left as it is"
    summary = f"published {ref} to s3://{bucket}/{result.prefix} ({copied}); {told}; endpoint {endpoint}"
    if state == "pending":
        summary += f"\napprove when reviewed: steward models approve {version.name} {version.version}"
    return document, summary


def model_digest(manifest: Mapping[str, Any]) -> str:
    """The registry's artifact digest of a manifest (`steward.admin.register_from_manifest`)."""
    artifacts = manifest.get("artifacts") or {}
    entry = artifacts.get(str(manifest.get("model_file") or "")) or {}
    digest = entry.get("sha256", "") if isinstance(entry, dict) else ""
    return f"sha256:{digest}" if digest else ""


def _task(manifest: Mapping[str, Any]) -> str:
    return str(manifest.get("task") or "")


def _stage_targets(stage: str, region: str) -> tuple[str, str, str]:
    """``(bucket, endpoint, owner account)`` from the stage's stack, or a clear refusal."""
    from steward.adapters.stack_outputs import describe_stage
    from steward.cli import EXIT_REFUSED, CliError

    stack = describe_stage(stage, region=region)
    bucket, endpoint = stack.outputs.get(BUCKET_OUTPUT), stack.outputs.get(ENDPOINT_OUTPUT)
    if not bucket:
        raise CliError("stage.incomplete", f"stack {stack.name} has no {BUCKET_OUTPUT} output", EXIT_REFUSED)
    if not endpoint:
        raise CliError(
            "stage.no_endpoint",
            f"stack {stack.name} has no inference endpoint (deployInference is false for {stage})",
            EXIT_REFUSED,
        )
    return bucket, endpoint, stack.account


def _registry(settings: AdminSettings) -> Any:
    from steward.bootstrap import build_admin

    return build_admin(settings).registry


def _store(bucket: str, region: str, owner: str) -> Any:
    from steward.adapters.object_store import S3ArtifactStore

    return S3ArtifactStore(bucket, region=region, owner=owner)


def _described(draft: AuditDraft, args: argparse.Namespace, document: Mapping[str, Any] | None) -> None:
    """The published version and its state (as the registry has it, not merely typed)."""
    if document is not None:
        draft.model, draft.model_version = document["model"], document["version"]
        draft.reason_codes.append(f"approval.{document['approval']}")


COMMANDS: dict[tuple[str, str], Callable[[argparse.Namespace, AdminSettings], Result]] = {COMMAND: _publish}
