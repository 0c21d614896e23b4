"""Invariants crash: a broken invariant is a bug, never bad input (TigerBeetle style)."""


class InvariantViolation(AssertionError):
    pass


def invariant(condition: object, message: str) -> None:
    """Raise even under ``python -O`` (unlike ``assert``)."""
    if not condition:
        raise InvariantViolation(message)
