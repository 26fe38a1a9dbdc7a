"""The failures of outside systems, as the handlers see them.

The adapters in infra/ translate HTTP statuses, timeouts and error bodies into these, after
their own retries are spent. Each carries a code from the error dictionary (docs/design.md), so
whatever catches it can record the code and show the fix to the person who can act on it.

    ExternalError
    ├── CanvasError
    │   ├── CanvasNotConfigured   CANVAS_NOT_CONFIGURED
    │   ├── CanvasAuthFailed      CANVAS_AUTH_FAILED
    │   ├── CanvasUnavailable     CANVAS_UNAVAILABLE
    │   └── CanvasRefused         CANVAS_REFUSED (a change Canvas declined, with its reason)
    └── SisError
        ├── SisNotConfigured      SIS_UNAVAILABLE (nothing to call)
        ├── SisAuthFailed         SIS_AUTH_FAILED
        ├── SisUnavailable        SIS_UNAVAILABLE
        ├── SisBusy               SIS_BUSY
        └── SisRejected           SIS_LINEITEM_REJECTED / SIS_RESULT_REJECTED / SIS_*_NOT_FOUND
"""

from __future__ import annotations


class ExternalError(Exception):
    code = "EXTERNAL_ERROR"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class CanvasError(ExternalError):
    code = "CANVAS_UNAVAILABLE"


class CanvasNotConfigured(CanvasError):
    code = "CANVAS_NOT_CONFIGURED"


class CanvasAuthFailed(CanvasError):
    code = "CANVAS_AUTH_FAILED"


class CanvasUnavailable(CanvasError):
    code = "CANVAS_UNAVAILABLE"


class CanvasRefused(CanvasError):
    """Canvas answered a change with a 4xx: nothing was changed, and `message` says why in words."""

    code = "CANVAS_REFUSED"


class SisError(ExternalError):
    code = "SIS_UNAVAILABLE"


class SisNotConfigured(SisError):
    code = "SIS_UNAVAILABLE"


class SisAuthFailed(SisError):
    code = "SIS_AUTH_FAILED"


class SisUnavailable(SisError):
    code = "SIS_UNAVAILABLE"


class SisBusy(SisError):
    code = "SIS_BUSY"


class SisRejected(SisError):
    """IC answered 4xx to a write or read: the request itself was refused.

    `code` is set per instance, because which dictionary entry applies depends on what was sent
    (a line item, a result) and what IC said (unknown class, unknown category, invalid data).
    """

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.code = code
