"""Realistic Canvas events for tests: the reference samples, Instructure's examples, and signing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import RSAKey

from gpb.handlers.envelope import CanvasEvent, parse_event

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = FIXTURES / "events"
CANVAS_EXAMPLES = FIXTURES / "canvas-examples"


def sample(name: str) -> dict[str, Any]:
    """One of the shard-1 samples, e.g. `sample("grade_change_8_to_9_5")`."""
    return json.loads((SAMPLES / f"{name}.json").read_text())


def canvas_examples() -> list[tuple[str, dict[str, Any]]]:
    """Every example payload Instructure documents, named `file[index]`."""
    found = []
    for path in sorted(CANVAS_EXAMPLES.glob("*.json")):
        document = json.loads(path.read_text())
        for index, example in enumerate(document["examples"]):
            found.append((f"{path.stem}[{index}]", example["payload"]))
    return found


def variant(event: dict[str, Any], **body: Any) -> dict[str, Any]:
    """A copy of `event` with body fields replaced (a different event for de-duplication)."""
    copied = copy.deepcopy(event)
    copied["body"].update(body)
    return copied


def grade_event(score: float, course_id: str | None = None) -> CanvasEvent:
    """A grade_change of `score` (each score a distinct event), in course 456 or `course_id`,
    read as ingress reads it."""
    event = variant(sample("grade_change_8_to_9_5"), score=score)
    if course_id is not None:
        event["metadata"]["context_id"] = course_id
    return parse_event(event)


def make_key(kid: str = "test-key-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


def jwks_document(*keys: RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def sign(event: dict[str, Any], key: RSAKey, **header: Any) -> bytes:
    protected = {"alg": "RS256", "kid": key.kid, **header}
    return jws.serialize_compact(protected, json.dumps(event), key).encode()
