"""Seller center rating pages; ``seller_urlpatterns`` is added to jishi/seller_urls.py
(namespace "seller")."""

from django.urls import path

from jishi.ratings import seller_views

seller_urlpatterns = [
    path("ratings/", seller_views.ratings, name="ratings"),
    path("ratings/<int:rating_id>/reply/", seller_views.rating_reply, name="rating_reply"),
    path("ratings/<int:rating_id>/change/", seller_views.rating_change, name="rating_change"),
    path("ratings/orders/<int:order_id>/rate/", seller_views.rate_buyer, name="rate_buyer"),
    path("quality/", seller_views.quality, name="quality"),
]
