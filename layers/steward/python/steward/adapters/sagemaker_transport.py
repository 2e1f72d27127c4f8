"""OIP v2 requests to a SageMaker real-time endpoint through ``sagemaker-runtime``.

The container reads the target model from the body (``model_name``/``model_version``); for a
multi-model endpoint ``TargetModel`` names the artefact. SDK retries are off: the router retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from steward.catalog.registry import Target
from steward.routing.transport import (
    BackendRequest,
    BackendResponse,
    ConnectFailed,
    TransportError,
    TransportTimeout,
)

EXPLAIN_ATTRIBUTE = "steward-operation=explain"
_STATUS_BY_CODE = {
    "ThrottlingException": 429,
    "ServiceUnavailable": 503,
    "ValidationError": 404,  # unknown endpoint/variant: the version is not served
    "InternalFailure": 500,
    "InternalDependencyException": 502,
}


class SageMakerTransport:
    def __init__(self, client: Callable[[], Any]) -> None:
        """``client`` returns a ``sagemaker-runtime`` client (called lazily, per send)."""
        self._client = client

    def send(self, target: Target, request: BackendRequest, timeout_s: float) -> BackendResponse:
        from botocore import exceptions as bx

        payload = dict(request.payload)
        payload["model_name"] = request.model
        if request.version:
            payload["model_version"] = request.version
        kwargs: dict[str, Any] = {
            "EndpointName": target.endpoint_name,
            "Body": json.dumps(payload, separators=(",", ":")).encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
        }
        if target.variant:
            kwargs["TargetVariant"] = target.variant
        if target.target_model:
            kwargs["TargetModel"] = target.target_model
        if request.operation == "explain":
            # /invocations is SageMaker's only route: the container reads the operation from here.
            kwargs["CustomAttributes"] = EXPLAIN_ATTRIBUTE
        try:
            response = self._client().invoke_endpoint(**kwargs)
            return BackendResponse(status=200, body=response["Body"].read())
        except bx.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ModelError":
                original: Any = error.response.get("OriginalStatusCode")
                status = int(original) if original else 502
                return BackendResponse(status=status, body=b"")
            return BackendResponse(status=_STATUS_BY_CODE.get(code, 502), body=b"")
        except (bx.ConnectTimeoutError, bx.EndpointConnectionError) as error:
            raise ConnectFailed(type(error).__name__) from None
        except bx.ReadTimeoutError:
            raise TransportTimeout("read timeout") from None
        except bx.BotoCoreError as error:
            raise TransportError(type(error).__name__) from None
