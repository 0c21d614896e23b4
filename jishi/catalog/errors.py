from jishi.core.errors import ErrorCode


class CatalogError(ErrorCode):
    CATEGORY_NOT_LEAF = "category_not_leaf"
    CATEGORY_TOO_DEEP = "category_too_deep"
    CATEGORY_CYCLE = "category_cycle"
    CATEGORY_HAS_PRODUCTS = "category_has_products"
    CATEGORY_NAME_TAKEN = "category_name_taken"
    COMMISSION_INVALID = "commission_rate_invalid"
    SKU_REQUIRED = "sku_required"
    SKU_SPECS_INVALID = "sku_specs_invalid"
    SKU_DUPLICATE = "sku_duplicate"
    SKU_LIMIT = "sku_limit"
    PRICE_INVALID = "price_invalid"
    LIST_PRICE_TOO_LOW = "list_price_too_low"
    STOCK_INVALID = "stock_invalid"
    STOCK_CHANGED = "stock_changed"
    NO_STOCK_TO_LIST = "no_stock_to_list"
    PRODUCT_BANNED = "product_banned"
    ATTRIBUTES_INVALID = "attributes_invalid"
    IMAGE_LIMIT = "image_limit"
    STATUS_INVALID = "status_invalid"
