"""IAM policy documents returned by the API Gateway REQUEST authorizer."""

from __future__ import annotations

from typing import Any


def stage_wildcard(method_arn: str) -> str:
    """``arn:...:api/stage/GET/v1/models`` -> ``arn:...:api/stage/*``.

    API Gateway caches the policy per identity for every route, so it must cover the whole
    stage; per-model entitlement is decided in the api function.
    """
    parts = method_arn.split("/")
    if len(parts) < 2 or not parts[0].startswith("arn:aws"):
        raise ValueError("not an execute-api method ARN")
    return f"{parts[0]}/{parts[1]}/*"


def policy(
    principal_id: str, effect: str, resource: str, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context is not None:
        response["context"] = context
    return response
