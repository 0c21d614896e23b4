"""Account pages (placeholder; being written)."""

from django.http import HttpResponse


def login_view(request):
    return HttpResponse("login")


register_view = logout_view = settings_view = notifications_view = login_view
