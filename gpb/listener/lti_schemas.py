"""What launch from Canvas reads and answers: the login and launch forms, and the developer key
JSON in Canvas's shape (its "Add LTI Key" by URL or pasted JSON)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class LtiLoginForm(BaseModel):
    """The OIDC third-party initiated login (query of a GET, or url-encoded form)."""

    iss: str
    login_hint: str
    target_link_uri: str | None = None
    lti_message_hint: str | None = None
    client_id: str | None = None
    lti_deployment_id: str | None = None
    lti_storage_target: str | None = None


class LtiLaunchForm(BaseModel):
    """The platform's form_post: the signed id_token and the login's state."""

    id_token: str
    state: str


class Placement(BaseModel):
    placement: str
    message_type: str
    target_link_uri: str
    text: str
    enabled: bool
    default: str
    visibility: str


class ExtensionSettings(BaseModel):
    text: str
    placements: list[Placement]


class Extension(BaseModel):
    domain: str
    tool_id: str
    platform: str
    privacy_level: str
    settings: ExtensionSettings


class DeveloperKey(BaseModel):
    title: str
    description: str
    oidc_initiation_url: str
    target_link_uri: str
    public_jwk_url: str
    scopes: list[str]
    custom_fields: dict[str, str]
    extensions: list[Extension]


class Jwks(BaseModel):
    keys: list[dict[str, Any]]
