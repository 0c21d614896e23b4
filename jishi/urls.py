"""Three portals over the apps' views: storefront /, seller center /seller/, console /console/."""

from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve as serve_media

from jishi.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("jishi.accounts.urls")),
    path("seller/", include("jishi.seller_urls")),
    path("console/", include("jishi.console.urls")),
    path("", include("jishi.orders.urls")),
    path("", include("jishi.payments.urls")),
    path("", include("jishi.aftersales.urls")),
    path("", include("jishi.storefront_urls")),
    # Uploaded images; behind a real web server in production (see docs/operating.md).
    re_path(r"^media/(?P<path>.*)$", serve_media, {"document_root": settings.MEDIA_ROOT}),
]

handler404 = "jishi.core.views.page_not_found"
handler403 = "jishi.core.views.permission_denied"
handler500 = "jishi.core.views.server_error"
