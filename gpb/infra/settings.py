"""Configuration from `GPB_*` environment variables and `.env` (docs/api.md, "Settings")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gpb.infra.store.database import POSTGRES_SCHEMES

MIN_SECRET_LENGTH = 32  # GPB_ADMIN_TOKEN (characters) and GPB_SESSION_SECRET (bytes)
INSTRUCTURE_JWKS_URL = "https://8axpcl50e4.execute-api.us-east-1.amazonaws.com/main/jwks"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GPB_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./gpb.db"
    # PostgreSQL only: connections per replica, and how long one statement may run.
    database_pool_size: int = Field(default=10, ge=2, le=200)
    database_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long a replica's claim on an event or a sync run holds before another replica may take
    # the work over (the first one having died); claims are renewed while the work goes on.
    event_lease_seconds: float = Field(default=300.0, ge=2)
    # How this process names itself in claims and logs; unset: host name and process id.
    replica_name: str | None = None
    events_auth: str = Field(default="jwt", pattern="^(jwt|none)$")
    canvas_jwks_url: str = INSTRUCTURE_JWKS_URL
    jwks_min_refetch_seconds: float = 10.0
    jwt_leeway_seconds: int = Field(default=3600, ge=1800)
    canvas_root_account_id: str | None = None
    max_event_bytes: int = 1_048_576
    rejected_body_keep_bytes: int = 16_384

    canvas_base_url: str | None = None
    canvas_token: SecretStr | None = None
    # Fixes made from gpb: as the teacher who clicked (Canvas's `as_user_id`, which needs the
    # token's user to hold "Become other users"), or as the token's own user.
    canvas_act_as_user: bool = False

    sis_base_url: str | None = None
    sis_token_url: str | None = None
    sis_client_id: str | None = None
    sis_client_secret: SecretStr | None = None
    sis_vendor_authorization: SecretStr | None = None
    sis_max_concurrency: int = Field(default=1, ge=1, le=16)
    sis_category_cache_seconds: float = 300.0
    # How long one call to IC may take before it is given up and retried.
    sis_timeout_seconds: float = Field(default=15.0, gt=0)

    sync_time_budget_seconds: float = 3600.0
    handler_max_attempts: int = Field(default=8, ge=1)
    handler_retry_base_seconds: float = 5.0
    handler_retry_max_seconds: float = 3600.0
    # Events received longer ago than this are purged daily (those still being handled are kept).
    event_retention_days: int = Field(default=400, ge=1)
    # Hardening of the edges: refused deliveries are purged sooner; Canvas's request fields
    # (user_login, client_ip, user_agent, session_id) are removed from stored events sooner still.
    rejected_retention_days: int = Field(default=7, ge=1)
    request_fields_retention_days: int = Field(default=30, ge=1)
    # Refused deliveries logged one by one per client address and minute; the rest are counted.
    refusals_logged_per_minute: int = Field(default=60, ge=1)
    # Failed logins and bearer checks a client address may make a minute before it must wait
    # (429), and how many in GPB_EVENT_FAILURES_WINDOW_MINUTES open the TOKENS_GUESSED alert.
    auth_failures_per_minute: int = Field(default=10, ge=1)
    auth_failures_alert_count: int = Field(default=30, ge=1)
    # Alert streams one token may hold open at once (per replica), and how long a request's body
    # may take to arrive before the request is dropped (uvicorn itself has no such limit).
    alert_streams_per_token: int = Field(default=8, ge=1)
    body_read_timeout_seconds: float = Field(default=30.0, gt=0)

    name_max_length: int = 30
    time_zone: str = "UTC"
    # Grades Canvas has not posted (hidden from the student): `send` them as Canvas's own passback
    # does, or `hold` them pending until Canvas posts them.
    unposted_grades: Literal["send", "hold"] = "send"

    admin_token: SecretStr | None = None
    session_secret: SecretStr | None = None

    alert_webhook_url: str | None = None
    alert_webhook_secret: SecretStr | None = None
    alert_canvas_inbox: bool = False
    alert_coalesce_seconds: float = 60.0

    # Admin alerts: the Canvas users to message (comma-separated ids), the school hours (in
    # GPB_TIME_ZONE) outside which silence is normal, and the thresholds of the other conditions.
    admin_canvas_user_ids: str = ""
    school_days: str = "mon-fri"
    school_hours: str = Field(default="07:00-17:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    events_silence_minutes: int = Field(default=60, ge=1)
    event_failures_alert_count: int = Field(default=20, ge=1)
    event_failures_window_minutes: int = Field(default=15, ge=1)
    auth_failures_window_minutes: int = Field(default=60, ge=1)
    failed_run_courses_alert: int = Field(default=3, ge=1)
    failed_runs_window_hours: int = Field(default=24, ge=1)
    disk_min_free_percent: float = Field(default=10.0, ge=0, le=100)
    disk_min_free_mb: int = Field(default=1024, ge=0)
    health_check_seconds: float = Field(default=60.0, gt=0)
    # Reconciliation: daily at this local time ("off": never), over the courses with an event or
    # a run in the last so many days (0: every known course).
    reconcile_at: str = Field(default="02:30", pattern=r"^(off|\d{2}:\d{2})$")
    reconcile_active_days: int = Field(default=30, ge=0)
    # Automatic syncs: the modes teachers may choose and the district's default for courses whose
    # teacher chose none; after a change, how long grading must pause before the run; the window
    # (in GPB_TIME_ZONE, may cross midnight) nightly times fall in; automatic runs at once across
    # the district off-peak (one in school hours); failed automatic runs in a row after which an
    # assignment is left out of them until the teacher syncs it by hand.
    auto_sync_modes: str = Field(
        default="off,after_change,nightly",
        pattern=r"^\s*(off|after_change|nightly)(\s*,\s*(off|after_change|nightly))*\s*$",
    )
    auto_sync_default: Literal["off", "after_change", "nightly"] = "off"
    auto_sync_delay_minutes: float = Field(default=10.0, gt=0)
    auto_sync_nightly_window: str = Field(
        default="18:00-06:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$"
    )
    auto_sync_max_runs: int = Field(default=2, ge=1, le=16)
    auto_sync_max_failures: int = Field(default=3, ge=1)

    # Launch from Canvas (LTI 1.3): off until GPB_LTI_CLIENT_ID is set. Lists are comma-separated.
    lti_issuer: str = "https://canvas.instructure.com"
    lti_client_id: str | None = None
    lti_deployment_ids: str = ""  # empty: any deployment of the client
    lti_auth_url: str = "https://sso.canvaslms.com/api/lti/authorize_redirect"
    lti_jwks_url: str = "https://sso.canvaslms.com/api/lti/security/jwks"
    lti_instructor_roles: str = "Instructor"
    # Canvas origins besides GPB_CANVAS_BASE_URL whose pages may frame gpb's (vanity domains).
    lti_frame_origins: str = ""
    public_base_url: str | None = None

    @field_validator("admin_token")
    @classmethod
    def _admin_token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # A short bootstrap token can be guessed; unset, `gpb serve` makes a random one.
        if value is None or not value.get_secret_value():
            return None  # `GPB_ADMIN_TOKEN=` in a .env file means unset
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} characters (unset it and `gpb serve` makes"
                " an admin token); `openssl rand -base64 32` gives one"
            )
        return value

    @field_validator("session_secret")
    @classmethod
    def _session_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value().encode()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"must be at least {MIN_SECRET_LENGTH} bytes; `openssl rand -base64 32` gives one"
            )
        return value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(POSTGRES_SCHEMES)

    @property
    def sqlite_path(self) -> str:
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError(
                f"GPB_DATABASE_URL is not a SQLite database ({self.database_url.split(':')[0]})"
            )
        return self.database_url[len(prefix) :]
