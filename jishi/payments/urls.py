"""Wallet and sandbox-bank pages. Being written."""

app_name = "payments"
urlpatterns: list = []
