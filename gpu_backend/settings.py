"""Server settings: explicit argument > `STEWARD_*` environment variable > default.

Kept as a frozen dataclass (no pydantic) so the container imports little and the hot path reads
plain attributes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL_REPOSITORY = "/opt/ml/model"  # where SageMaker mounts the model artefacts
DEFAULT_PORT = 8080  # the SageMaker container contract
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker real-time payload limit


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` and `serve` need; validated on construction."""

    model_repository: Path = field(default_factory=lambda: Path(DEFAULT_MODEL_REPOSITORY))
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: Force max_batch_size=1 for every model (benchmark baseline, debugging).
    no_batching: bool = False
    #: Use the manifest's fp16 variant when the CUDA provider is in use.
    fp16: bool = False
    #: Use CUDA when onnxruntime offers it; False pins the CPU provider.
    use_gpu: bool = True
    #: ORT intra-op threads per session replica; 0 = auto: the cores shared out among the
    #: instances on the CPU provider, ORT's own default on CUDA.
    intra_op_threads: int = 0
    #: Batches in flight per model, each on its own session replica (Triton's instance count);
    #: 0 = auto: two (one batch fills while the other computes), one on a single-core machine.
    instances: int = 0
    #: Let idle ORT worker threads spin (ORT's default). Off by default: spinning threads take the
    #: cores the event loop needs between batches.
    ort_spinning: bool = False
    #: Longest a SIGTERM drain waits for in-flight requests before exiting anyway.
    drain_timeout_s: float = 30.0
    #: Seconds to keep answering (not ready / 503) after in-flight work ends, so load balancers
    #: notice before the socket closes.
    drain_grace_s: float = 0.0
    log_level: str = "info"

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}")
        if self.max_body_bytes <= 0:
            raise ValueError(f"max_body_bytes must be positive, got {self.max_body_bytes}")
        if self.intra_op_threads < 0:
            raise ValueError(f"intra_op_threads must be >= 0, got {self.intra_op_threads}")
        if self.instances < 0:
            raise ValueError(f"instances must be >= 0, got {self.instances}")
        if self.drain_timeout_s < 0 or self.drain_grace_s < 0:
            raise ValueError("drain_timeout_s and drain_grace_s must be >= 0")

    @property
    def model_instances(self) -> int:
        """Batches in flight per model (`instances`, resolved)."""
        return self.instances or min(2, os.cpu_count() or 1)

    def session_threads(self, *, on_gpu: bool) -> int:
        """Intra-op threads for each replica (`intra_op_threads`, resolved; 0 = ORT's default).

        On the CPU the cores are shared out so the replicas do not oversubscribe them; on CUDA the
        CPU threads only run the few host-side nodes, and ORT's default is right.
        """
        if self.intra_op_threads or on_gpu:
            return self.intra_op_threads
        return max(1, (os.cpu_count() or 1) // self.model_instances)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from `STEWARD_*` variables; non-None `overrides` win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "model_repository": Path(env.get("STEWARD_MODEL_REPOSITORY") or DEFAULT_MODEL_REPOSITORY),
            "host": env.get("STEWARD_BACKEND_HOST") or "0.0.0.0",
            "port": _env_int(env, "STEWARD_BACKEND_PORT", DEFAULT_PORT),
            "max_body_bytes": _env_int(env, "STEWARD_BACKEND_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            "no_batching": _env_bool(env, "STEWARD_BACKEND_NO_BATCHING", False),
            "fp16": _env_bool(env, "STEWARD_BACKEND_FP16", False),
            "use_gpu": _env_bool(env, "STEWARD_BACKEND_USE_GPU", True),
            "intra_op_threads": _env_int(env, "STEWARD_BACKEND_INTRA_OP_THREADS", 0),
            "instances": _env_int(env, "STEWARD_BACKEND_INSTANCES", 0),
            "ort_spinning": _env_bool(env, "STEWARD_BACKEND_ORT_SPINNING", False),
            "drain_timeout_s": _env_float(env, "STEWARD_BACKEND_DRAIN_TIMEOUT_S", 30.0),
            "drain_grace_s": _env_float(env, "STEWARD_BACKEND_DRAIN_GRACE_S", 0.0),
            "log_level": env.get("STEWARD_BACKEND_LOG_LEVEL") or "info",
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["model_repository"], str):
            values["model_repository"] = Path(values["model_repository"])
        return cls(**values)  # type: ignore[arg-type]
