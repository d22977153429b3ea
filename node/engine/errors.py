"""Named engine errors. Each concerns one request or one session: the host that raised
it keeps serving every other session. ``code`` is stable and travels over the wire;
``error_from_code`` rebuilds the same class on the other side."""

from __future__ import annotations

from node.core.errors import HeliomeshError


class EngineError(HeliomeshError):
    """Base of the errors a span host reports for one request."""

    code = "engine"


class InvalidRequestError(EngineError):
    """A malformed request: a bad session id, position or max_length argument."""

    code = "invalid_request"


class InvalidHiddenStatesError(EngineError):
    """Hidden states of the wrong type, dtype, shape, length, or with NaN/inf values."""

    code = "invalid_hidden"


class UnknownSessionError(EngineError):
    """No such session: never opened, closed, or expired after its idle timeout."""

    code = "unknown_session"


class SessionExistsError(EngineError):
    """``open()`` with a session id that is already open."""

    code = "session_exists"


class SessionLengthError(EngineError):
    """A step would take the session past its max length (or max_length is too large)."""

    code = "session_length"


class PositionMismatchError(EngineError):
    """The step's position leaves a gap, or asks for a rollback the cache cannot do."""

    code = "position_mismatch"


class MemoryBudgetError(EngineError):
    """The session's KV-cache reservation does not fit in the host's memory budget."""

    code = "memory_budget"


class CodecError(EngineError):
    """A wire payload that does not decode, or a value the codec cannot carry."""

    code = "codec"


class InternalEngineError(EngineError):
    """The forward pass itself failed; the sessions involved were closed."""

    code = "internal"


ERRORS: dict[str, type[EngineError]] = {
    cls.code: cls
    for cls in (
        EngineError, InvalidRequestError, InvalidHiddenStatesError, UnknownSessionError, SessionExistsError,
        SessionLengthError, PositionMismatchError, MemoryBudgetError, CodecError,
        InternalEngineError,
    )
}  # fmt: skip


def error_from_code(code: str, message: str) -> EngineError:
    """Rebuild an error received from a peer (unknown codes become ``EngineError``)."""
    return ERRORS.get(code, EngineError)(message)
