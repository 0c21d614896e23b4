from jishi.core.errors import ErrorCode


class AftersalesError(ErrorCode):
    NOT_ALLOWED = "refund_not_allowed"  # the order or line cannot take a request now
    ALREADY_OPEN = "refund_already_open"  # a second open request on the same line
    TOO_MANY = "refund_too_many"
    KIND_INVALID = "refund_kind_invalid"
    REASON_INVALID = "refund_reason_invalid"
    AMOUNT_INVALID = "refund_amount_invalid"  # zero, or above what was paid
    STATUS_INVALID = "refund_status_invalid"  # the action does not fit the case's status
    EXCHANGE_SKU_INVALID = "exchange_sku_invalid"
    OPEN_CASE = "refund_open"  # the order has an open after-sales request
    DISPUTE_NOT_ALLOWED = "dispute_not_allowed"
    DISPUTE_STATUS_INVALID = "dispute_status_invalid"
    EVIDENCE_PHASE_OPEN = "evidence_phase_open"
    ADVANCE_NOT_ALLOWED = "advance_not_allowed"
    EVIDENCE_LIMIT = "evidence_limit"
