"""The seller center (卖家中心) under /seller/."""

from django.urls import path

from jishi.aftersales.urls import seller_urlpatterns as aftersales_urls
from jishi.catalog import seller_views as catalog_views
from jishi.orders import seller_views as order_views
from jishi.payments import seller_views as finance_views
from jishi.ratings.seller_urls import seller_urlpatterns as ratings_urls
from jishi.shops import seller_views as shop_views

app_name = "seller"

urlpatterns = [
    path("", shop_views.home, name="home"),
    path("verify/", shop_views.verify, name="verify"),
    path("shop/", shop_views.shop_settings, name="shop"),
    path("staff/", shop_views.staff, name="staff"),
    path("staff/<int:staff_id>/", shop_views.staff_update, name="staff_update"),
    path("products/", catalog_views.products, name="products"),
    path("products/new/", catalog_views.product_new, name="product_new"),
    path("products/<int:product_id>/", catalog_views.product_edit, name="product"),
    path("products/<int:product_id>/edit/", catalog_views.product_edit, name="product_edit"),
    path("products/<int:product_id>/list/", catalog_views.product_list, name="product_list"),
    path("products/<int:product_id>/unlist/", catalog_views.product_unlist, name="product_unlist"),
    path("stock/", catalog_views.stock, name="stock"),
    path("stock/<int:sku_id>/", catalog_views.stock_set, name="stock_set"),
    path("orders/", order_views.orders, name="orders"),
    path("orders/<int:order_id>/", order_views.order_detail, name="order"),
    path("orders/<int:order_id>/ship/", order_views.order_ship, name="order_ship"),
    path("orders/<int:order_id>/memo/", order_views.order_memo, name="order_memo"),
    path("shipping/", order_views.shipping, name="shipping"),
    path("finance/", finance_views.finance, name="finance"),
]

urlpatterns += aftersales_urls
urlpatterns += ratings_urls
