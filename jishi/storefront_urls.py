from django.urls import path

from jishi.catalog import views as catalog_views
from jishi.shops import views as shop_views

app_name = "storefront"

urlpatterns = [
    path("", catalog_views.home, name="home"),
    path("search/", catalog_views.search, name="search"),
    path("category/<int:category_id>/", catalog_views.category, name="category"),
    path("item/<int:product_id>/", catalog_views.product_detail, name="product"),
    path("shop/<int:shop_id>/", shop_views.shop_detail, name="shop"),
]
