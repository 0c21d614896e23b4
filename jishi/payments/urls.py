"""Wallet pages and the sandbox bank's payer page, mounted at the site root."""

from django.urls import path

from jishi.payments import views

app_name = "payments"

urlpatterns = [
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/topup/", views.wallet_topup, name="topup"),
    path("wallet/withdraw/", views.wallet_withdraw, name="withdraw"),
    path("pay/sandbox/topup/<int:topup_id>/", views.sandbox_topup, name="sandbox_topup"),
]
