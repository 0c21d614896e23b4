"""Remember the devices users sign in from, for the anti-brushing checks."""

from typing import Any

from jishi.ratings.services import device_fingerprint, device_record


def request_fingerprint(request: Any) -> str:
    return device_fingerprint(
        device_id=request.headers.get("X-Device-Id", ""),
        user_agent=request.headers.get("User-Agent", ""),
        address=request.META.get("REMOTE_ADDR", ""),
    )


def device_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and getattr(user, "pk", None):
        device_record(user=user, fingerprint=request_fingerprint(request))
