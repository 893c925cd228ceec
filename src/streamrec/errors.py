"""Domain exceptions. Nothing here knows about HTTP; serving/errors.py maps them to statuses."""

from __future__ import annotations


class StreamrecError(Exception):
    """Base of every error streamrec raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(StreamrecError):
    """The caller sent something we refuse; `field` names where (e.g. ``events[3].value``)."""

    code = "invalid_input"

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message, field=field)


class InvalidSetting(StreamrecError):
    """A setting (an environment variable or a flag) names nothing we know or holds a value we
    refuse; the message says which and what is allowed."""

    code = "invalid_setting"


class NotFound(StreamrecError):
    code = "not_found"


class Unauthorized(StreamrecError):
    code = "unauthorized"


class Forbidden(StreamrecError):
    code = "forbidden"


class Conflict(StreamrecError):
    """The request contradicts what is already stored (e.g. a session merged elsewhere)."""

    code = "conflict"


class Oversized(StreamrecError):
    """A body or batch over the configured limit."""

    code = "oversized"


class RateLimited(StreamrecError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(StreamrecError):
    """A dependency (disk, broker, queue) cannot take the work now; retrying later may succeed."""

    code = "unavailable"


class Damaged(Unavailable):
    """A file of the data dir is damaged (not what was written); the message names it."""

    code = "damaged"


class Misconfigured(StreamrecError):
    """A setting does not fit the data dir (e.g. another pseudonym secret); the message says
    what to set."""

    code = "misconfigured"
