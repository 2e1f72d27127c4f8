"""Synthesise the Steward app once per session (jsii synth is slow) for every infra test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from aws_cdk import App
from aws_cdk.assertions import Template

from cdk.application import build_app, stewards_stack
from cdk.stack import StewardStack

REPO_ROOT = Path(__file__).resolve().parents[2]
#: A one-version model repository: the stack ships it like a built ``models/``, without copying
#: hundreds of MB into every synth.
TINY_MODEL_REPOSITORY = REPO_ROOT / "tests" / "fixtures" / "model_repository"


@dataclass(frozen=True)
class Synth:
    """One synthesised app: the stack object (for logical ids) and its template."""

    app: App
    stack: StewardStack
    template: Template

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return self.template.find_resources(cfn_type)

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


def cdk_context(**stage_overrides: Any) -> dict[str, Any]:
    """The context of cdk.json (feature flags, stages), with overrides for the dev stage."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    context["steward:stages"]["dev"]["modelRepository"] = str(TINY_MODEL_REPOSITORY)
    context["steward:stages"]["dev"].update(stage_overrides)
    return context


def synthesise(tmp_dir: Path, **stage_overrides: Any) -> Synth:
    app = build_app(cdk_context(**stage_overrides), nag=False, outdir=str(tmp_dir))
    stack = stewards_stack(app)
    return Synth(app=app, stack=stack, template=Template.from_stack(stack))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    """The dev stage as cdk.json defines it (inference endpoint on)."""
    yield synthesise(tmp_path_factory.mktemp("cdk-out"), alarmEmail="ops@example.com")


@pytest.fixture(scope="session")
def synth_without_inference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    """The dev stage with ``deployInference: false`` (no GPU endpoint)."""
    yield synthesise(tmp_path_factory.mktemp("cdk-out-no-inference"), deployInference=False)
