from django.conf import settings
from django.db import models

from jishi.core import clock


class TimeStamped(models.Model):
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        abstract = True


class AuditLog(models.Model):
    """One row for every money, status or security change: who, what, before, after, why."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id"])]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"


class OutboxMessage(models.Model):
    """A side effect written in the same transaction as the change that causes it.

    ``jishi worker`` drains it; a handler that fails is retried with back-off.
    """

    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=clock.now)
    available_at = models.DateTimeField(default=clock.now)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["processed_at", "available_at"])]

    def __str__(self) -> str:
        return f"{self.topic}#{self.pk}"


class PlatformSetting(models.Model):
    """An operator's override of a trade rule; defaults live in jishi.core.rules."""

    key = models.CharField(max_length=64, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.key


class IdempotentRequest(models.Model):
    """An API call made with an ``Idempotency-Key`` (jishi.core.idempotency): the key is taken
    by its first request, and the response is kept so that a retry gets the same answer.

    ``response_status`` is null while the first request is still running.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    operation = models.CharField(max_length=64)
    request_hash = models.CharField(max_length=64)  # HMAC-SHA256 of method, path and body
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # the JSON exactly as first sent
    started_at = models.DateTimeField(default=clock.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"
