"""The operator console under /console/."""

from django.urls import path

from jishi.console import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("verifications/", views.verifications, name="verifications"),
    path(
        "verifications/<int:verification_id>/decide/",
        views.verification_decide,
        name="verification_decide",
    ),
    path("categories/", views.categories, name="categories"),
    path("categories/<int:category_id>/edit/", views.category_edit, name="category_edit"),
    path("products/", views.products, name="products"),
    path("products/<int:product_id>/take-down/", views.product_take_down, name="product_take_down"),
    path("products/<int:product_id>/feature/", views.product_feature, name="product_feature"),
    path("orders/", views.orders, name="orders"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("ledger/", views.ledger, name="ledger"),
]
