"""Buyer trade pages, mounted at the site root: cart, checkout, pay, my orders."""

from django.urls import path

from jishi.orders import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/<int:item_id>/update/", views.cart_update, name="cart_update"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("pay/<int:group_id>/", views.pay, name="pay"),
    path("orders/", views.order_list, name="list"),
    path("orders/<int:order_id>/", views.order_detail, name="detail"),
    path("orders/<int:order_id>/cancel/", views.order_cancel, name="cancel"),
    path("orders/<int:order_id>/refund/", views.order_refund, name="refund"),
    path("orders/<int:order_id>/confirm/", views.order_confirm, name="confirm"),
    path("orders/<int:order_id>/extend/", views.order_extend, name="extend"),
    path("orders/<int:order_id>/address/", views.order_address, name="address"),
]
