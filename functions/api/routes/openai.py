"""The OpenAI-compatible routes: models and embeddings, so OpenAI SDKs work unchanged.

Problems on these paths also carry OpenAI's ``error`` object (`steward.errors.problem`).
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.api.deps import CatalogService, Context, Inference
from functions.api.openapi import BACKEND_PROBLEMS, DISCLOSURE_HEADERS, MODEL_PROBLEMS, PROBLEMS
from functions.api.schemas import EmbeddingsRequest, EmbeddingsResponse, ModelItem, ModelList

router = APIRouter(responses=PROBLEMS, tags=["openai"])


@router.get("/v1/models", response_model=ModelList)
async def list_models(context: Context, catalog: CatalogService) -> Response:
    return await context.run(catalog.list_models, context.request_context)


@router.get("/v1/models/{model}", response_model=ModelItem, responses=MODEL_PROBLEMS)
async def retrieve_model(model: str, context: Context, catalog: CatalogService) -> Response:
    """OpenAI ``models.retrieve``: a model this key may call (``name`` or ``name@version``)."""
    return await context.run(catalog.retrieve_model, context.request_context, model)


@router.post(
    "/v1/embeddings",
    response_model=EmbeddingsResponse,
    responses={200: {"headers": DISCLOSURE_HEADERS}, **BACKEND_PROBLEMS},
)
async def create_embeddings(body: EmbeddingsRequest, context: Context, inference: Inference) -> Response:
    """OpenAI ``embeddings.create``; ``model`` in the answer names the version that produced it
    (``name@version``)."""
    return context.disclosed(
        await context.run(
            inference.embed,
            context.request_context,
            body.model,
            body.input,
            body.encoding_format,
            body.dimensions,
        )
    )
