"""`gpb sandbox` and `gpb sandbox post`: the sandbox from the command line.

`serve` prints the GPB_* settings that point gpb at the sandbox, then serves it; changes made to
its Canvas send signed Live Events to `--gpb-url`. `post` signs an event file with the sandbox's
key and posts it to gpb, as Canvas would. Both run as separate processes, so the key is kept in a
file, made on first use: GPB_SANDBOX_KEY_FILE, else `./.gpb-sandbox-key.json` when the current
folder has one, else the user's `~/.config/gpb/sandbox-key.json` (`$XDG_CONFIG_HOME` honoured),
so `post` finds it from any folder.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import httpx
import uvicorn

from gpb.infra.sandbox.app import create_sandbox_app
from gpb.infra.sandbox.keys import load_or_create_key, sign_event
from gpb.infra.sandbox.lti_platform import LtiPlatform
from gpb.infra.sandbox.server import KEEP_ALIVE_SECONDS
from gpb.infra.sandbox.settings import (
    SandboxSettings,
    gpb_environment,
    lti_environment,
    other_site,
)
from gpb.infra.sandbox.state import SandboxState, load_seed

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8900
DEFAULT_GPB_URL = "http://127.0.0.1:8000"  # where `gpb serve` listens by default
LOCAL_KEY_FILE = ".gpb-sandbox-key.json"
KEY_FILE_VARIABLE = "GPB_SANDBOX_KEY_FILE"


def user_key_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "gpb" / "sandbox-key.json"


def resolve_key_path(key_path: str | Path | None = None) -> Path:
    """The key file: given, from the environment, the current folder's, or the user's."""
    if key_path or os.environ.get(KEY_FILE_VARIABLE):
        return Path(key_path or os.environ[KEY_FILE_VARIABLE])
    local = Path(LOCAL_KEY_FILE)
    return local if local.exists() else user_key_path()


def _public_base_url(host: str, port: int) -> str:
    """The URL to print: a wildcard bind address is reached through loopback."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    seed_path: str | Path | None = None,
    key_path: str | Path | None = None,
    gpb_url: str = DEFAULT_GPB_URL,
) -> None:
    """Prints the settings for gpb and the pages that launch it, then serves the sandbox until
    interrupted."""
    seed = load_seed(seed_path)
    key_file = resolve_key_path(key_path)
    settings = SandboxSettings(signing_key=load_or_create_key(key_file))
    platform = LtiPlatform(settings.signing_key, tool_url=gpb_url.rstrip("/"))
    state = SandboxState(seed)
    state.live_events.url = gpb_url.rstrip("/") + "/events/canvas"
    app = create_sandbox_app(state, settings, platform)
    base_url = _public_base_url(host, port)
    print(f"# gpb sandbox: Canvas and Infinite Campus stand-ins at {base_url}")
    print("# Point gpb at it (in a shell, or in .env without 'export'):")
    environment = gpb_environment(base_url, settings) | lti_environment(base_url, platform)
    environment["GPB_PUBLIC_BASE_URL"] = platform.tool_url
    for name, value in environment.items():
        print(f"export {name}={shlex.quote(value)}")
    pages = other_site(base_url)
    course = seed.canvas.courses[0]
    teacher = course.teachers[0] if course.teachers else ""
    admin = next(iter(platform.admins))
    print(f"# Then, with gpb running at {platform.tool_url}, open the sandbox's Canvas and click")
    print("# Grade Passback (gpb opens in Canvas's iframe, signed in by the launch):")
    print(f"#   as the teacher: {pages}/courses/{course.id}?as_user={teacher}")
    print(f"#   as an admin:    {pages}/accounts/1/external_tools/gpb?as_user={admin}")
    print(f"# State and controls: {base_url}/_sandbox/state")
    print(f"# Signing key: {key_file.resolve()} (gpb sandbox post finds it from any folder)")
    print(f"# Changes to Canvas send signed Live Events to {state.live_events.url} (--gpb-url)")
    print("# Change Canvas as a teacher would: gpb sandbox canvas --help")
    print("# Send a signed event to gpb: gpb sandbox post EVENT.json [--to URL]", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=KEEP_ALIVE_SECONDS)


def post(file_path: str | Path, to_url: str, key_path: str | Path | None = None) -> int:
    """Signs the event in `file_path` and posts it to `to_url`; prints the answer.

    Returns 0 when gpb accepted it (2xx), 1 when it answered otherwise or could not be reached,
    2 when the file is not a JSON event.
    """
    try:
        event = json.loads(Path(file_path).read_text("utf-8"))
    except (OSError, ValueError) as error:
        print(f"cannot read an event from {file_path}: {error}", file=sys.stderr)
        return 2
    if not isinstance(event, dict):
        print(f"{file_path} does not hold a JSON object", file=sys.stderr)
        return 2
    key_file = resolve_key_path(key_path)
    if not key_file.exists():
        print(
            f"no sandbox signing key at {key_file}: start `gpb sandbox` first (it makes the key),"
            f" or give the file it printed with --key or {KEY_FILE_VARIABLE}",
            file=sys.stderr,
        )
        return 2
    token = sign_event(event, load_or_create_key(key_file))
    try:
        response = httpx.post(
            to_url, content=token, headers={"Content-Type": "application/jwt"}, timeout=20.0
        )
    except httpx.HTTPError as error:
        print(f"could not post to {to_url}: {error}", file=sys.stderr)
        return 1
    print(f"{response.status_code} {response.reason_phrase}")
    print(response.text)
    return 0 if response.is_success else 1
