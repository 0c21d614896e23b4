from jishi.core.errors import ErrorCode


class InventoryError(ErrorCode):
    OUT_OF_STOCK = "out_of_stock"
