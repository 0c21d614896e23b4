"""After-sales pages. ``urlpatterns``: the buyer's, mounted at the site root (namespace
"aftersales"); ``seller_urlpatterns``: the seller center's, added to jishi/seller_urls.py
(namespace "seller")."""

from django.urls import path

from jishi.aftersales import seller_views, views

app_name = "aftersales"

urlpatterns = [
    path("orders/<int:order_id>/aftersales/new/", views.request_new, name="new"),
    path("aftersales/", views.case_list, name="list"),
    path("aftersales/<int:case_id>/", views.case_detail, name="detail"),
    path("aftersales/<int:case_id>/revise/", views.request_revise, name="revise"),
    path("aftersales/<int:case_id>/cancel/", views.case_cancel, name="cancel"),
    path("aftersales/<int:case_id>/return/", views.case_return_ship, name="return_ship"),
    path("aftersales/<int:case_id>/dispute/", views.case_dispute_open, name="dispute"),
    path(
        "aftersales/<int:case_id>/dispute/withdraw/",
        views.case_dispute_withdraw,
        name="dispute_withdraw",
    ),
    path("aftersales/<int:case_id>/message/", views.case_message, name="message"),
]

seller_urlpatterns = [
    path("aftersales/", seller_views.queue, name="aftersales"),
    path("aftersales/<int:case_id>/", seller_views.case_detail, name="case"),
    path("aftersales/<int:case_id>/agree/", seller_views.case_agree, name="case_agree"),
    path("aftersales/<int:case_id>/refuse/", seller_views.case_refuse, name="case_refuse"),
    path(
        "aftersales/<int:case_id>/goods/confirm/",
        seller_views.case_goods_confirm,
        name="case_goods_confirm",
    ),
    path(
        "aftersales/<int:case_id>/goods/refuse/",
        seller_views.case_goods_refuse,
        name="case_goods_refuse",
    ),
    path("aftersales/<int:case_id>/dispute/", seller_views.case_dispute_open, name="case_dispute"),
    path(
        "aftersales/<int:case_id>/dispute/withdraw/",
        seller_views.case_dispute_withdraw,
        name="case_dispute_withdraw",
    ),
    path("aftersales/<int:case_id>/message/", seller_views.case_message, name="case_message"),
    path("violations/", seller_views.violations, name="violations"),
]
