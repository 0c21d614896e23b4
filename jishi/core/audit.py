from typing import Any

from django.db.models import Model

from jishi.core.models import AuditLog


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditLog:
    """Write one audit row; call it inside the service's transaction."""
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
        reason=str(reason)[:500],
    )
