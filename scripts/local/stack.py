"""Start, seed and stop the local stack: moto server, inference backend, gateway, and the audit
table's stream poller (Lambda's event source mapping, which moto does not run) feeding the audit
archiver's handler.

``python -m scripts.local up`` runs it in the foreground until Ctrl-C; tests drive the same
:class:`LocalStack` so what they exercise is what a newcomer runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steward.cli_target import LOCAL_CREDENTIALS, LOCAL_TIMEOUTS
from steward.resources import ResourceNames

from scripts.local.event_pump import EventPump, SweepSchedule
from scripts.local.processes import ChildProcess, free_port, python_module, wait_http_ok
from scripts.local.provision import ProvisionedResources
from scripts.local.stream_poller import LambdaContext, StreamPoller

DEEP_PII_MODEL = "pii-ner@1"
#: The batch worker's Lambda timeout (cdk/events.py), as the local event pump's context tells it.
WORKER_TIMEOUT_S = 300.0
#: The expiry sweep's interval locally (AWS: every 15 minutes, `cdk.events.SWEEP_INTERVAL`).
LOCAL_SWEEP_INTERVAL_S = 60.0


@dataclass
class LocalStackConfig:
    model_repository: Path
    host: str = "127.0.0.1"
    port: int = 8000
    backend_port: int = 0  # 0: pick a free port
    moto_port: int = 0
    state_file: Path = Path(".steward/local.json")
    log_dir: Path = Path(".steward/logs")
    stage: str = "local"
    backend_ready_timeout_s: float = 180.0


@dataclass
class LocalStackState:
    api_url: str
    backend_url: str
    aws_endpoint_url: str
    demo_api_key: str
    demo_admin_key: str
    demo_tenant: str
    models: list[str] = field(default_factory=list)
    #: The `steward.settings.AdminSettings` fields that reach this stack (stage, region, table and
    #: secret names): with ``aws_endpoint_url``, what the ``steward`` CLI reads when no env is set.
    settings: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def cli_settings(names: ResourceNames) -> dict[str, str]:
    """Settings the CLI needs for a stack provisioned from ``names`` (no secrets: the pepper
    stays in the stack's Secrets Manager)."""
    return {
        "stage": names.stage,
        "region": names.region,
        "account": names.account,
        "api_keys_table": names.api_keys_table.name,
        "models_table": names.models_table.name,
        "policies_table": names.policies_table.name,
        "control_table": names.control_table.name,
        "limits_table": names.limits_table.name,
        "audit_table": names.audit_table.name,
        "reviews_table": names.reviews_table.name,
        "batches_table": names.batches_table.name,
        "pepper_secret_name": names.pepper_secret,
    }


class LocalStack:
    """Owns the child processes and the environment the gateway code reads."""

    def __init__(self, config: LocalStackConfig) -> None:
        self.config = config
        self.names = ResourceNames(stage=config.stage)
        self._children: list[ChildProcess] = []
        self._jobs: ProvisionedResources | None = None
        self._pump: EventPump | None = None
        self._sweeps: SweepSchedule | None = None
        self.state: LocalStackState | None = None
        self.audit_stream: StreamPoller | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> LocalStackState:
        """Start moto and the backend, provision and seed; return what clients need."""
        cfg = self.config
        try:
            moto_port = cfg.moto_port or free_port(cfg.host)
            moto = self._spawn(
                "moto", python_module("moto.server", "-H", cfg.host, "-p", str(moto_port)), "moto.log"
            )
            endpoint = f"http://{cfg.host}:{moto_port}"
            wait_http_ok(f"{endpoint}/moto-api/", moto, timeout_s=60)

            backend_port = cfg.backend_port or free_port(cfg.host)
            backend = self._spawn(
                "backend",
                python_module(
                    "gpu_backend",
                    "serve",
                    "--model-repository",
                    str(cfg.model_repository),
                    "--host",
                    cfg.host,
                    "--port",
                    str(backend_port),
                ),
                "backend.log",
            )
            backend_url = f"http://{cfg.host}:{backend_port}"
            os.environ.update(self.gateway_environment(endpoint, backend_url))

            import boto3  # local tooling only: the Lambdas reach AWS through steward.adapters

            from scripts.local.provision import provision
            from scripts.local.seed import seed

            session = boto3.session.Session()
            provisioned = provision(self.names, session)
            os.environ["STEWARD_JOBS_QUEUE_URL"] = provisioned.jobs_queue_url
            self._jobs = provisioned
            self.audit_stream = self._archive_audit_stream(session)
            wait_http_ok(f"{backend_url}/v2/health/ready", backend, timeout_s=cfg.backend_ready_timeout_s)
            seeded = seed(self.config.model_repository, backend_url)
            self.state = LocalStackState(
                api_url=f"http://{cfg.host}:{cfg.port}",
                backend_url=backend_url,
                aws_endpoint_url=endpoint,
                demo_api_key=seeded.api_key,
                demo_admin_key=seeded.admin_key,
                demo_tenant=seeded.tenant_id,
                models=seeded.models,
                settings=cli_settings(self.names),
            )
            return self.state
        except BaseException:
            self.stop()
            raise

    def gateway_environment(self, aws_endpoint_url: str, backend_url: str) -> dict[str, str]:
        """The variables the Lambdas get from CDK, pointed at the local services."""
        return {
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": aws_endpoint_url,
            "STEWARD_STAGE": self.config.stage,
            "STEWARD_BACKEND_URL": backend_url,
            "POWERTOOLS_SERVICE_NAME": "steward-api",
            "POWERTOOLS_METRICS_NAMESPACE": "Steward",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            **LOCAL_TIMEOUTS,
            # EMF lines are for CloudWatch: locally the archiver's would print on every batch.
            "POWERTOOLS_METRICS_DISABLED": "true",
            # The deep PII path, for tenant policies that pick it (the model is in the default build).
            "STEWARD_PRIVACY_DEEP_MODEL": (
                DEEP_PII_MODEL
                if (self.config.model_repository / DEEP_PII_MODEL.replace("@", "/")).is_dir()
                else ""
            ),
        }

    def write_state(self) -> Path:
        assert self.state is not None
        path = self.config.state_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state.as_json(), indent=2) + "\n")
        tmp.replace(path)
        return path

    def start_event_pump(self) -> EventPump:
        """Deliver the jobs queue to the batch worker's handler, as Lambda's SQS event source
        would (`scripts.local.event_pump`). Call after `start`: the worker reads its settings
        from the environment `start` set, as a Lambda reads its own at cold start."""
        assert self._jobs is not None, "start the stack first"
        import boto3

        from functions.batch_worker.handler import handler

        pump = EventPump(
            boto3.client("sqs", region_name=self.names.region),
            self._jobs.jobs_queue_url,
            self._jobs.jobs_queue_arn,
            handler,
            region=self.names.region,
            timeout_s=WORKER_TIMEOUT_S,
        )
        pump.start()
        self._pump = pump
        self._sweeps = SweepSchedule(
            boto3.client("sqs", region_name=self.names.region),
            self._jobs.jobs_queue_url,
            interval_s=LOCAL_SWEEP_INTERVAL_S,
        )
        self._sweeps.start()
        return pump

    def _archive_audit_stream(self, session: Any) -> StreamPoller:
        """The audit archiver's handler on the audit table's stream, as Lambda would run it."""
        from functions.audit_archiver.handler import handler  # reads the environment set above

        poller = StreamPoller(
            session.client("dynamodb"),
            session.client("dynamodbstreams"),
            self.names.audit_table.name,
            handler,
            context=LambdaContext(function_name=f"{self.names.prefix}-audit-archiver"),
        )
        poller.start()
        return poller

    def stop(self) -> None:
        """Stop every child in reverse start order; remove the state file (it names dead ports)."""
        if self._sweeps is not None:
            self._sweeps.stop()
            self._sweeps = None
        if self._pump is not None:
            self._pump.stop()
            self._pump = None
        if self.audit_stream is not None:
            self.audit_stream.stop()
            self.audit_stream = None
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        if self.state is not None:
            self.config.state_file.unlink(missing_ok=True)

    # -- helpers ---------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], log_name: str) -> ChildProcess:
        child = ChildProcess(name, argv, self.config.log_dir / log_name)
        self._children.append(child)
        return child
