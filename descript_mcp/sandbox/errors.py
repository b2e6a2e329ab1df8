"""Error answers in Descript's shape: `{"error": code, "message": text}`."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

STATUS_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "unprocessable_entity",
    429: "rate_limit_exceeded",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or STATUS_CODES.get(status, "internal_error")
        self.headers = headers or {}
        self.extra = extra or {}

    def response(self) -> JSONResponse:
        body = {"error": self.code, "message": self.message, **self.extra}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def unauthorized() -> ApiError:
    return ApiError(401, "Missing or invalid authentication token")


def invalid(message: str, **extra: Any) -> ApiError:
    return ApiError(400, message, extra=extra)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)
