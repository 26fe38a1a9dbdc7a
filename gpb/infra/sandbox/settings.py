"""The credentials the sandbox expects, and the gpb settings that point gpb at it.

They are demo values, printed on purpose by `gpb sandbox`: the sandbox guards nothing, but it checks
credentials the way Canvas and IC do, so a gpb that forgets one fails here first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from joserfc.jwk import RSAKey

from gpb.infra.sandbox.keys import new_signing_key
from gpb.infra.sandbox.lti_platform import AUTHORIZE_PATH, LtiPlatform

CANVAS_PREFIX = "/api/v1"
ONEROSTER_PREFIX = "/ims/oneroster"
TOKEN_PATH = ONEROSTER_PREFIX + "/token"
JWKS_PATH = "/jwks.json"
# The root account of the seeded course (local id 1) on shard 1, as the sample events name it.
ROOT_ACCOUNT_ID = "10000000000001"


@dataclass(frozen=True)
class SandboxSettings:
    canvas_token: str = "sandbox-canvas-token"
    sis_client_id: str = "sandbox-client"
    sis_client_secret: str = "sandbox-client-secret"
    sis_vendor_authorization: str = "sandbox-vendor-key:sandbox-vendor-secret"
    signing_key: RSAKey = field(default_factory=new_signing_key)


def gpb_environment(base_url: str, settings: SandboxSettings) -> dict[str, str]:
    """The `GPB_*` settings (docs/api.md) that make gpb use the sandbox at `base_url`."""
    root = base_url.rstrip("/")
    return {
        "GPB_CANVAS_BASE_URL": root,
        "GPB_CANVAS_TOKEN": settings.canvas_token,
        "GPB_CANVAS_JWKS_URL": root + JWKS_PATH,
        "GPB_CANVAS_ROOT_ACCOUNT_ID": ROOT_ACCOUNT_ID,
        "GPB_SIS_BASE_URL": root + ONEROSTER_PREFIX,
        "GPB_SIS_TOKEN_URL": root + TOKEN_PATH,
        "GPB_SIS_CLIENT_ID": settings.sis_client_id,
        "GPB_SIS_CLIENT_SECRET": settings.sis_client_secret,
        "GPB_SIS_VENDOR_AUTHORIZATION": settings.sis_vendor_authorization,
    }


def other_site(url: str) -> str:
    """The same loopback server under the other name: `localhost` for `127.0.0.1` and back. The
    browser counts them as two sites, so a page on one framing gpb on the other is cross-site."""
    if "//localhost" in url:
        return url.replace("//localhost", "//127.0.0.1", 1)
    return url.replace("//127.0.0.1", "//localhost", 1)


def lti_environment(base_url: str, platform: LtiPlatform) -> dict[str, str]:
    """The `GPB_LTI_*` settings that make gpb a tool of the sandbox's platform, whose Canvas pages
    (and so gpb's iframe) are opened on the other name of the sandbox's host."""
    root = base_url.rstrip("/")
    return {
        "GPB_LTI_ISSUER": platform.issuer,
        "GPB_LTI_CLIENT_ID": platform.client_id,
        "GPB_LTI_DEPLOYMENT_IDS": platform.deployment_id,
        "GPB_LTI_AUTH_URL": root + AUTHORIZE_PATH,
        "GPB_LTI_JWKS_URL": root + JWKS_PATH,
        "GPB_LTI_FRAME_ORIGINS": other_site(root),
    }
