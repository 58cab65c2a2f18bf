"""AWS failures, classified by what a caller should do about them."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from spotter.model import ERROR_NOT_ENABLED, ERROR_OTHER, ERROR_THROTTLED, ERROR_UNAUTHORIZED

THROTTLE_CODES = frozenset(
    {"RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException"}
)
# AWS answers a region the account has not enabled with either of these.
NOT_ENABLED_CODES = frozenset({"AuthFailure", "OptInRequired"})
UNAUTHORIZED_CODES = frozenset(
    {
        "UnauthorizedOperation",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "RequestExpired",
    }
)


#: Everything a botocore call raises for a failed call. ResponseParserError (a garbled or
#: truncated answer) is not a BotoCoreError, so it has to be named.
CALL_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, ResponseParserError)


class AwsError(RuntimeError):
    """A failed AWS call. `kind` is one of model.ERROR_KINDS; `code` is AWS's error code."""

    def __init__(self, kind: str, code: str, message: str, region: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.region = region

    def __str__(self) -> str:
        where = f"{self.region}: " if self.region else ""
        return f"{where}{self.code}: {self.args[0]}"


def classify(
    exc: BaseException, region: str | None = None, *, region_enabled: bool | None = None
) -> AwsError:
    """Turn a botocore exception into an AwsError of the right kind.

    AuthFailure means "not enabled" in a region the account has not opted into, but bad
    credentials in a region it has: `region_enabled=True` (from DescribeRegions) says which.
    """
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        message = _clean(str(error.get("Message") or code))
        if code in THROTTLE_CODES:
            kind = ERROR_THROTTLED
        elif code in NOT_ENABLED_CODES and not (code == "AuthFailure" and region_enabled):
            kind = ERROR_NOT_ENABLED
        elif code in UNAUTHORIZED_CODES or code == "AuthFailure":
            kind = ERROR_UNAUTHORIZED
        else:
            kind = ERROR_OTHER
        return AwsError(kind, code, message, region)
    if isinstance(exc, NoCredentialsError):
        return AwsError(ERROR_UNAUTHORIZED, "NoCredentials", "no AWS credentials found", region)
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return AwsError(ERROR_OTHER, "Timeout", _clean(str(exc)), region)
    if isinstance(exc, EndpointConnectionError):
        return AwsError(ERROR_OTHER, "EndpointConnectionError", _clean(str(exc)), region)
    if isinstance(exc, BotoCoreError):
        return AwsError(ERROR_OTHER, type(exc).__name__, _clean(str(exc)), region)
    return AwsError(ERROR_OTHER, type(exc).__name__, _clean(str(exc)), region)


def _clean(message: str) -> str:
    # Keep error text short and single-line; AWS messages never carry secrets, but request
    # ids and long XML bodies are noise in a status field.
    return " ".join(message.split())[:300]
