from jishi.core.errors import ErrorCode


class LedgerError(ErrorCode):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    IDEMPOTENCY_CONFLICT = "idempotency_key_reused"
    AMOUNT_INVALID = "amount_invalid"
    SAME_ACCOUNT = "same_account"
    PENDING_NOT_FOUND = "pending_transfer_not_found"
    PENDING_ALREADY_RESOLVED = "pending_transfer_resolved"
