"""Every problem rollcall reports, one exception type per stable problem `code`.

app.py maps them once to RFC 9457 problem+json responses.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DatabaseSetupError(RuntimeError):
    """The database could not be started or reached at start-up (not an HTTP problem)."""


class Problem(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def response_headers(self) -> dict[str, str]:
        return dict(self.headers)


class ValidationFailed(Problem):
    status, code, title = 422, "validation_error", "The request is not valid"


class MalformedRequest(Problem):
    status, code, title = 400, "malformed_request", "The request body is not valid JSON"


class UnsupportedMediaType(Problem):
    status, code, title = 415, "unsupported_media_type", "The request body must be JSON"


class PayloadTooLarge(Problem):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class RequestTimeout(Problem):
    status, code, title = 408, "request_timeout", "The request took too long to arrive"


class HeadersTooLarge(Problem):
    status, code, title = 431, "headers_too_large", "The request's header fields are too large"


class NotFound(Problem):
    status, code, title = 404, "not_found", "Not found"


class MethodNotAllowed(Problem):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class MisdirectedRequest(Problem):
    status, code, title = 421, "misdirected_request", "This server does not serve that host name"


class EventNotFound(Problem):
    status, code, title = 404, "event_not_found", "No event has this code"


class ParticipantNotFound(Problem):
    status, code, title = 404, "participant_not_found", "No such participant in this event"


class EventClosed(Problem):
    status, code, title = 410, "event_closed", "The event is closed"


class DeviceBanned(Problem):
    status, code, title = 403, "device_banned", "This device was removed from the event"


class EventLocked(Problem):
    status, code, title = 403, "event_locked", "The event accepts no new participants"


class EventFull(Problem):
    status, code, title = 409, "event_full", "Every seat of the event is taken"


class NameTaken(Problem):
    status, code, title = 409, "name_taken", "Someone else in this event has this name"


class NameNotAllowed(Problem):
    status, code, title = 422, "name_not_allowed", "This event does not allow this name"


class NamesGenerated(Problem):
    status, code, title = (
        409,
        "names_generated",
        "This event gives its participants generated names",
    )


class GeneratedNamesOff(Problem):
    status, code, title = 409, "generated_names_off", "In this event, participants choose a name"


class TeamNotFound(Problem):
    status, code, title = 422, "team_not_found", "This event has no team with this id"


class TeamChoiceOff(Problem):
    status, code, title = 409, "team_choice_off", "In this event, the host assigns the teams"


class RoomCheckFailed(Problem):
    status, code, title = 403, "room_check_failed", "The room check code is missing or wrong"


class ReclaimDisabled(Problem):
    status, code, title = 403, "reclaim_disabled", "This event does not let seats move"


class RecoveryCodeInvalid(Problem):
    status, code, title = 403, "recovery_code_invalid", "No one in this event has this code"


class ParticipantNotPending(Problem):
    status, code, title = 409, "participant_not_pending", "The participant is not waiting"


class ParticipantNotKicked(Problem):
    status, code, title = 409, "participant_not_kicked", "The participant is not removed"


class RateLimited(Problem):
    status, code, title = 429, "rate_limited", "Too many requests from this address"

    def __init__(self, detail: str | None = None, *, retry_after_s: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after_s = max(1, retry_after_s)

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class InvalidToken(Problem):
    status, code, title = 401, "invalid_token", "The credentials are missing, invalid or revoked"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "These credentials do not allow this"


class StateTooLarge(Problem):
    status, code, title = 413, "state_too_large", "The state would exceed its size limit"


class VersionConflict(Problem):
    status, code, title = 412, "version_conflict", "The state is no longer at the expected version"


class ParticipantPending(Problem):
    status, code, title = 403, "participant_pending", "The host has not let this participant in yet"


class ActionTooLarge(Problem):
    status, code, title = 413, "action_too_large", "The action's data exceeds 4 KiB"


class UnknownVersion(Problem):
    status, code, title = 409, "unknown_version", "No such state version exists yet"


class WebhookNotFound(Problem):
    status, code, title = 404, "webhook_not_found", "This event has no webhook"


class ServiceUnavailable(Problem):
    status, code, title = 503, "service_unavailable", "The database cannot be reached"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "2"}
