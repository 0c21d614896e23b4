"""Buyer-side trade pages (cart, checkout, orders). Being written."""

app_name = "orders"
urlpatterns: list = []
