"""OpenAPI additions FastAPI cannot infer: bodies that a route parses itself.

The chat route reads its raw body in the thread pool (so its errors take OpenAI's shape and
a big body never parses on the event loop); ``openapi_extra=json_body(Model)`` still
describes that body, and :func:`install_openapi` adds ``Model``'s schema to the components.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF_TEMPLATE = "#/components/schemas/{model}"


def json_body(model: type[BaseModel], example: dict[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model``, parsed by the route."""
    media: dict[str, Any] = {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}
    if example is not None:
        media["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


def install_openapi(app: FastAPI, body_models: Sequence[type[BaseModel]]) -> None:
    """Generate the schema as FastAPI does, plus the components of ``body_models``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        _, definitions = models_json_schema(
            [(model, "validation") for model in body_models], ref_template=REF_TEMPLATE
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
