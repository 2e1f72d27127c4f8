"""Build the CDK app from context: one StewardStack for the selected stage, nag checks on."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_cdk import App, Environment

from cdk.nag import add_nag_checks
from cdk.paths import REPO_ROOT
from cdk.settings import STAGES_CONTEXT_KEY, StageSettings
from cdk.stack import StewardStack

DEFAULT_STAGE = "dev"


def build_app(context: dict[str, Any] | None = None, *, nag: bool = True, outdir: str | None = None) -> App:
    """The app ``cdk synth`` runs (``app.py``); tests pass ``context`` to pin stages/settings.

    Without ``context`` the ``cdk.json`` context is the default, so ``python app.py`` synthesises
    with the same feature flags as the CLI (CLI context, e.g. ``-c stage=prod``, still wins).
    """
    if context is None:
        context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    app = App(context=context, outdir=outdir)
    stage = str(app.node.try_get_context("stage") or DEFAULT_STAGE)
    settings = StageSettings.from_context(stage, app.node.try_get_context(STAGES_CONTEXT_KEY))
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    StewardStack(
        app,
        f"Steward-{stage}",
        settings=settings,
        env=Environment(account=account, region=region) if account and region else None,
        description=f"Steward {stage}: responsible Model-as-a-Service",
    )
    if nag:
        add_nag_checks(app)
    return app


def stewards_stack(app: App) -> StewardStack:
    """The (single) StewardStack of an app built by ``build_app``."""
    stacks = [child for child in app.node.children if isinstance(child, StewardStack)]
    if len(stacks) != 1:
        raise LookupError(f"expected one StewardStack, found {len(stacks)}")
    return stacks[0]
