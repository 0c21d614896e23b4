from django.conf import settings


def portal(request):
    """Which portal a page belongs to (storefront / seller / console), for the header."""
    path = request.path
    if path.startswith("/seller/"):
        name = "seller"
    elif path.startswith("/console/"):
        name = "console"
    else:
        name = "storefront"
    return {"portal": name, "site_name": settings.JISHI_SITE_NAME}
