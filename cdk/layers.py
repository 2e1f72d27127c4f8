"""The two Lambda layers: the Steward domain package and its third-party dependencies.

The dependency layer is prebuilt by ``make layers`` (``layers/deps/build.sh``: manylinux wheels
for the Lambda platform), so synth never needs Docker. When the build is missing, synth still
works (tests, ``cdk diff``) against ``layers/deps`` and says so in a warning: such a layer would
deploy without its packages.
"""

from __future__ import annotations

from aws_cdk import Annotations, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk.paths import ALWAYS_EXCLUDED, DEPS_LAYER_BUILD_DIR, DEPS_LAYER_SOURCE_DIR, STEWARD_LAYER_DIR

RUNTIME = lambda_.Runtime.PYTHON_3_12  # the dependency layer's wheels are built for cp312
ARCHITECTURE = lambda_.Architecture.X86_64  # matches --python-platform x86_64-manylinux2014


class LayersConstruct(Construct):
    """``steward`` (domain) and ``deps`` (third-party) layers shared by every function."""

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy):
        super().__init__(scope, construct_id)
        self.steward = lambda_.LayerVersion(
            self,
            "Steward",
            code=lambda_.Code.from_asset(str(STEWARD_LAYER_DIR), exclude=ALWAYS_EXCLUDED),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Steward domain package (python/steward)",
            removal_policy=removal_policy,
        )
        deps_dir = DEPS_LAYER_BUILD_DIR
        if not (deps_dir / "python").is_dir():
            Annotations.of(self).add_warning_v2(
                "steward:deps-layer-not-built",
                f"{DEPS_LAYER_BUILD_DIR} is missing: run `make layers` (layers/deps/build.sh) before "
                "deploying; this synth packages layers/deps without its third-party packages.",
            )
            deps_dir = DEPS_LAYER_SOURCE_DIR
        self.deps = lambda_.LayerVersion(
            self,
            "Deps",
            code=lambda_.Code.from_asset(str(deps_dir), exclude=ALWAYS_EXCLUDED),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Third-party packages (Powertools, FastAPI, Mangum, pydantic)",
            removal_policy=removal_policy,
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.deps, self.steward]
