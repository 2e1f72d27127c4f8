"""The ``TopicEmbedder`` adapter: sentence embeddings from the backend's MiniLM through the router.

The same path the deep privacy detector takes (``steward/privacy/detectors/deep.py``): the model
version is looked up in the registry on every call (so an approval change applies), the request is
the OIP BYTES text batch of ``steward/inference/embeddings.py``, and it goes through the gateway's
:class:`~steward.routing.router.Router` (deadline, retries, circuit breaker, HTTP or SageMaker).
Any failure raises (``BackendError``, ``BackendUnavailable``, ``ModelNotFound``...): the topic check
fails closed. Nothing is logged here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from steward.auth.principal import Principal
from steward.catalog.registry import ModelVersion, Registry, split_model_ref
from steward.catalog.signature import tensor_name
from steward.inference.embeddings import DEFAULT_INPUT, DEFAULT_OUTPUT, batches, build_request, parse_response
from steward.routing.router import Router
from steward.routing.transport import BackendRequest

DEFAULT_MODEL = "all-minilm-l6-v2"

#: Returns the routable model version to call (looked up per call, so registry changes apply).
Resolver = Callable[[], ModelVersion]


class RouterTopicEmbedder:
    """``TopicEmbedder`` backed by a sentence-embedding model served by ``gpu_backend``."""

    def __init__(self, router: Router, resolve: Resolver) -> None:
        self._router = router
        self._resolve = resolve

    def model_id(self) -> str:
        version = self._resolve()
        return f"{version.model}@{version.version}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        version = self._resolve()
        input_name = tensor_name(version.inputs, DEFAULT_INPUT)
        output_name = tensor_name(version.outputs, DEFAULT_OUTPUT)
        vectors: list[list[float]] = []
        for batch in batches(texts, version.max_batch_size):
            request = BackendRequest(
                model=version.backend_model,
                version=version.backend_version,
                payload=build_request(batch, input_name),
            )
            result = self._router.call(version.target, request)
            vectors.extend(parse_response(result.payload, len(batch), batch, output_name).vectors)
        return vectors


def topic_model_resolver(registry: Registry, model_ref: str = DEFAULT_MODEL) -> Resolver:
    """Resolve ``name[@version]`` as Steward's own system principal, entitled to that one model.

    An unknown, disabled or unapproved model raises ``ModelNotFound`` (the check fails closed).
    """
    name, version = split_model_ref(model_ref)
    system = Principal(tenant_id="steward-system", key_id="usage-policy-topics", scopes=frozenset(),
                       models=frozenset({name}))  # fmt: skip

    def resolve() -> ModelVersion:
        return registry.resolve(system, name, version).version

    return resolve
