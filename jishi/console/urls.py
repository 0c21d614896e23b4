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
    path("orders/<int:order_id>/advance/", views.order_advance, name="order_advance"),
    path("ledger/", views.ledger, name="ledger"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<int:dispute_id>/", views.dispute_detail, name="dispute"),
    path("disputes/<int:dispute_id>/take/", views.dispute_take, name="dispute_take"),
    path("disputes/<int:dispute_id>/message/", views.dispute_message, name="dispute_message"),
    path("disputes/<int:dispute_id>/rule/", views.dispute_rule, name="dispute_rule"),
    path("violations/", views.violations, name="violations"),
    path("ratings/", views.ratings, name="ratings"),
    path("ratings/<int:rating_id>/", views.rating_detail, name="rating"),
    path("ratings/<int:rating_id>/review/", views.rating_review, name="rating_review"),
    path("buyer-ratings/", views.buyer_ratings, name="buyer_ratings"),
]
