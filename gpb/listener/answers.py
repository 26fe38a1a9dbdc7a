"""Sending a model of `listener.schemas`: as the JSON body of an answer, or as the plain data a
page's template reads. Either way only the keys the model was given are sent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response


def json_answer(model: BaseModel, status_code: int = 200) -> Response:
    """The model as JSON, serialised by pydantic in one pass (as compact as JSONResponse's)."""
    return Response(
        model.model_dump_json(exclude_unset=True), status_code, media_type="application/json"
    )


def shown(model: BaseModel) -> dict[str, Any]:
    """The model as the JSON answer holds it, for a page (and an error's details)."""
    return model.model_dump(mode="json", exclude_unset=True)
