"""``Idempotency-Key`` for the API's money-moving calls (ARCHITECTURE.md convention 10).

A client that may retry a call (a timeout, a dropped connection) sends a header
``Idempotency-Key: <1 to 128 printable ASCII characters>``, e.g. a UUID, and the same key
with the same request on every retry. Keys belong to the calling user.

- The first request takes the key: a row (user, key, operation, request hash) is inserted and
  committed on its own *before* the operation runs, so a concurrent twin cannot run too.
- The operation and the saving of its response run in one transaction: either both are
  committed or neither is, so a request killed half-way leaves the key free to be retried
  (see "stale" below) and never a committed operation without its answer.
- A retry with the same method, path and body gets the stored status and body again, with
  the header ``Idempotent-Replayed: true``; nothing runs a second time.
- The same key with a different request (another operation, path or body) is refused:
  409 ``idempotency_key_reused``. Bodies are compared byte for byte: send the same bytes.
- A twin that arrives while the first request still runs gets 409 ``idempotency_in_progress``
  (retry shortly; nothing was done). A key whose first request has run for more than
  ``IN_PROGRESS_STALE_SECONDS`` (far beyond any request timeout) is taken over by the next
  retry: that request was killed and its transaction rolled back. Even then no money can move
  twice: the ledger keys every transfer (``payment:order:<id>``…) and the services refuse a
  second payment, confirmation or refund.

What is stored (the choice, and why):
- 2xx responses, and 4xx answers from the services (DomainError: ``already_paid``,
  ``out_of_stock``, ``insufficient_funds``, ``order_status_invalid``…). A retry must see the
  same answer as the first attempt, whether or not the client received it; to try again
  after changing something (topping up, a restock) the client uses a new key.
- Not stored: refusals about the payment PIN (``pin_wrong``, ``pin_locked``,
  ``pin_not_set``). The operation was not attempted, only its authorisation failed; the user
  corrects the PIN (a different body) or waits for the lock, and retries with the *same* key.
  Storing the refusal would turn that retry into ``idempotency_key_reused``, or replay "wrong
  PIN" to a correct one. Every such attempt still counts towards the PIN lockout: the failure
  counter is committed even though the key is freed.
- Not stored: anything unexpected (a 5xx). Its transaction is rolled back and the key freed.
- Validation errors (422) and authentication errors (401) happen before the operation; the
  key is not even taken.

The request hash is an HMAC (keyed with the secret key), not a plain hash, because a body may
hold a 6-digit payment PIN that a plain hash would give away to anyone reading the table.
Rows are kept ``RETENTION_SECONDS``; ``idempotency_prune`` deletes older ones.
"""

import hashlib
import hmac
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy as _
from ninja.responses import Status

from jishi.accounts.errors import AccountError
from jishi.core import clock
from jishi.core.errors import Conflict, DomainError, ErrorCode, field_error
from jishi.core.models import IdempotentRequest

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_LENGTH_MAX = 128
IN_PROGRESS_STALE_SECONDS = 120
RETENTION_SECONDS = 7 * 86400
CLAIM_ATTEMPTS_MAX = 3

# Refusals that leave the key free for another attempt (see the module docstring).
NOT_STORED_CODES = frozenset(
    {AccountError.PIN_WRONG, AccountError.PIN_LOCKED, AccountError.PIN_NOT_SET}
)


OPENAPI_NOTE = (
    "Send an `Idempotency-Key` header (1 to 128 printable ASCII characters, e.g. a UUID) to "
    "make retries safe: the same key with the same request returns the first answer "
    "(header `Idempotent-Replayed: true`); with another request it is 409 "
    "`idempotency_key_reused`; while the first is running, 409 `idempotency_in_progress`."
)


class IdempotencyError(ErrorCode):
    KEY_INVALID = "idempotency_key_invalid"
    KEY_REUSED = "idempotency_key_reused"
    IN_PROGRESS = "idempotency_in_progress"


def _key_clean(raw: str) -> str:
    if not 1 <= len(raw) <= KEY_LENGTH_MAX or not all(" " <= c <= "~" for c in raw):
        raise field_error(
            KEY_HEADER,
            _("The Idempotency-Key header must be 1 to 128 printable ASCII characters."),
            IdempotencyError.KEY_INVALID,
        )
    return raw


def request_key(request: HttpRequest) -> str | None:
    """The request's Idempotency-Key, checked (a bad one is a 400), or None."""
    raw = request.headers.get(KEY_HEADER)
    return None if raw is None else _key_clean(raw)


def service_key(request: HttpRequest) -> str | None:
    """The key to hand to a service's own idempotency check (the service scopes it to the
    user and shortens it with scoped_idempotency_key)."""
    return request_key(request)


def request_hash(request: HttpRequest) -> str:
    """HMAC-SHA256 over the method, the full path and the raw body."""
    try:
        body = request.body
    except RawPostDataException:  # a multipart body already parsed; none of ours
        body = b""
    secret = f"idempotency:{settings.SECRET_KEY}".encode()
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in (request.method or "", request.get_full_path()):
        mac.update(part.encode())
        mac.update(b"\n")
    mac.update(body)
    return mac.hexdigest()


@dataclass
class _Claim:
    row: IdempotentRequest
    owned: bool  # True: this request runs the operation; False: replay row.response


def _claim(*, user: Any, key: str, operation: str, fingerprint: str) -> _Claim:
    """Take the key (a row committed on its own), or return the finished row to replay."""
    for _attempt in range(CLAIM_ATTEMPTS_MAX):
        now = clock.now()
        try:
            with transaction.atomic():
                row = IdempotentRequest.objects.create(
                    user=user,
                    key=key,
                    operation=operation,
                    request_hash=fingerprint,
                    started_at=now,
                    created_at=now,
                )
            return _Claim(row, owned=True)
        except IntegrityError:
            pass
        row = IdempotentRequest.objects.filter(user=user, key=key).first()
        if row is None:  # freed between our insert and our read: try again
            continue
        if row.operation != operation or row.request_hash != fingerprint:
            raise Conflict(
                IdempotencyError.KEY_REUSED,
                _("This Idempotency-Key was already used for a different request."),
            )
        if row.response_status is not None:
            return _Claim(row, owned=False)
        stale = now - timedelta(seconds=IN_PROGRESS_STALE_SECONDS)
        if row.started_at < stale:
            taken = IdempotentRequest.objects.filter(
                pk=row.pk, response_status__isnull=True, started_at=row.started_at
            ).update(started_at=now)
            if taken:
                row.started_at = now
                return _Claim(row, owned=True)
        raise Conflict(
            IdempotencyError.IN_PROGRESS,
            _("A request with this Idempotency-Key is still being processed; retry shortly."),
        )
    raise Conflict(
        IdempotencyError.IN_PROGRESS,
        _("A request with this Idempotency-Key is still being processed; retry shortly."),
    )


def _mine(row: IdempotentRequest):
    """The row while this request still holds it (not taken over, not finished)."""
    return IdempotentRequest.objects.filter(
        pk=row.pk, started_at=row.started_at, response_status__isnull=True
    )


def _store(row: IdempotentRequest, status: int, body: str) -> None:
    """Save the answer; if a retry took the key over meanwhile, undo this run instead (the
    caller's transaction rolls back), so the stored answer always matches what happened."""
    if not _mine(row).update(response_status=status, response_body=body, completed_at=clock.now()):
        raise Conflict(
            IdempotencyError.IN_PROGRESS,
            _("A request with this Idempotency-Key is still being processed; retry shortly."),
        )


def _release(row: IdempotentRequest) -> None:
    _mine(row).delete()


def _api() -> Any:
    from jishi.api import api  # the API module imports the routers that import this one

    return api


def _json_response(request: HttpRequest, data: Any, status: int) -> HttpResponse:
    return _api().create_response(request, data, status=status)


def _render(request: HttpRequest, result: Any, schema: Any, status: int) -> HttpResponseBase:
    """What Ninja would answer for ``result``, rendered now so that it can be stored."""
    if isinstance(result, HttpResponseBase):
        return result
    if isinstance(result, Status):
        status, result = result.status_code, result.value
    if schema is not None:
        context = {"request": request, "response_status": status}
        result = schema.model_validate(result, context=context).model_dump()
    return _json_response(request, result, status)


def _replay(request: HttpRequest, row: IdempotentRequest) -> HttpResponse:
    response = HttpResponse(
        row.response_body.encode(),
        status=row.response_status,
        content_type=_api().get_content_type(),
    )
    response[REPLAYED_HEADER] = "true"
    return response


def run_once(
    request: HttpRequest,
    *,
    operation: str,
    call: Callable[[], Any],
    schema: Any = None,
    status: int = 200,
) -> Any:
    """Run ``call`` at most once per (user, Idempotency-Key); see the module docstring.

    Without the header, ``call()`` is simply returned for Ninja to render. ``schema`` is the
    response schema of ``status`` (used to render and store the answer).
    """
    key = request_key(request)
    if key is None:
        return call()
    user = request.auth  # type: ignore[attr-defined]
    claim = _claim(user=user, key=key, operation=operation, fingerprint=request_hash(request))
    if not claim.owned:
        return _replay(request, claim.row)
    row = claim.row
    refusal: DomainError | None = None
    try:
        with transaction.atomic():
            try:
                result = call()
            except DomainError as exc:
                if connection.needs_rollback:  # the transaction is broken: nothing to keep
                    raise
                refusal = exc
                if exc.code in NOT_STORED_CODES:
                    _release(row)  # committed with the PIN's failure counter
                else:
                    body = _json_response(request, exc.as_dict(), exc.status_code)
                    _store(row, exc.status_code, body.content.decode())
            else:
                response = _render(request, result, schema, status)
                _store(row, response.status_code, response.content.decode())
    except BaseException:
        _release(row)
        raise
    if refusal is not None:
        raise refusal
    return response


def idempotent(operation: str, schema: Any = None, status: int = 200) -> Callable:
    """Decorate an API handler (under ``@router.post``) so that it honours Idempotency-Key.

    ``schema`` is the handler's success response schema; ``status`` its default status (a
    handler may return ``Status(201, obj)`` instead).
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def handler(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return run_once(
                request,
                operation=operation,
                call=lambda: view(request, *args, **kwargs),
                schema=schema,
                status=status,
            )

        handler.__doc__ = (inspect.cleandoc(view.__doc__ or "") + "\n\n" + OPENAPI_NOTE).strip()
        return handler

    return decorate


def idempotency_prune(*, older_than_seconds: int = RETENTION_SECONDS) -> int:
    """Delete keys older than the retention period; returns how many went."""
    cutoff = clock.now() - timedelta(seconds=older_than_seconds)
    deleted, _rows = IdempotentRequest.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def scoped_idempotency_key(user_id: int, key: str) -> str:
    """A client's key scoped to its user, short enough for any key column (≤ 100 chars)."""
    scoped = f"{user_id}:{key}"
    if len(scoped) <= 100:
        return scoped
    return f"{user_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
