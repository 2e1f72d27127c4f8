"""The routes a batch may run: OpenAI embeddings and Open Inference Protocol v2 inference.

A batch names one endpoint and every line's ``url`` must be exactly it (OpenAI's rule). An OIP
endpoint names its model in the path, so the model is checked when the batch is created (the same
404 whether it does not exist or the key may not call it): only a registered name is ever stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMBEDDINGS = "/v1/embeddings"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}"
_OIP = re.compile(rf"^/v2/models/(?P<model>{_NAME})(?:/versions/(?P<version>{_NAME}))?/infer$")
#: What the OpenAPI document states for ``endpoint`` (the model is checked against the registry).
ENDPOINT_PATTERN = rf"^(?:{EMBEDDINGS}|/v2/models/{_NAME}(?:/versions/{_NAME})?/infer)$"


@dataclass(frozen=True)
class Endpoint:
    path: str
    model: str | None = None  # OIP: the model (and version) the path names
    version: str | None = None

    @property
    def is_embeddings(self) -> bool:
        return self.path == EMBEDDINGS

    @property
    def template(self) -> str:
        """The route template, as audit records name routes (never a caller-typed value)."""
        if self.is_embeddings:
            return EMBEDDINGS
        if self.version is not None:
            return "/v2/models/{model}/versions/{version}/infer"
        return "/v2/models/{model}/infer"


def parse_endpoint(path: str) -> Endpoint | None:
    if path == EMBEDDINGS:
        return Endpoint(path)
    found = _OIP.fullmatch(path)
    if found is None:
        return None
    return Endpoint(path, model=found.group("model"), version=found.group("version"))
