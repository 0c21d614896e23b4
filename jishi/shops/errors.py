from jishi.core.errors import ErrorCode


class ShopError(ErrorCode):
    NOT_VERIFIED = "seller_not_verified"
    ALREADY_HAS_SHOP = "already_has_shop"
    NAME_TAKEN = "shop_name_taken"
    TYPE_INVALID = "shop_type_invalid"
    ROLE_INVALID = "staff_role_invalid"
    ROLE_FORBIDDEN = "staff_role_forbidden"
    STAFF_LIMIT = "staff_limit"
    OWNER_IMMUTABLE = "owner_immutable"
    NOT_STAFF = "not_shop_staff"
    IMAGE_INVALID = "image_invalid"
    SHOP_CLOSED = "shop_closed"
    VIOLATION_INVALID = "violation_invalid"
