from jishi.core.errors import ErrorCode


class OrderError(ErrorCode):
    CART_EMPTY = "cart_empty"
    CART_LIMIT = "cart_limit"
    QUANTITY_INVALID = "quantity_invalid"
    SKU_UNAVAILABLE = "sku_unavailable"
    OWN_SHOP = "own_shop"
    ADDRESS_REQUIRED = "address_required"
    STATUS_INVALID = "order_status_invalid"
    ALREADY_PAID = "already_paid"
    NOTHING_TO_PAY = "nothing_to_pay"
    PAY_DEADLINE_PASSED = "pay_deadline_passed"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    TRACKING_REQUIRED = "tracking_required"
    EXTEND_NOT_ALLOWED = "extend_not_allowed"
    SHIPPING_INVALID = "shipping_invalid"
