from django.urls import path

from jishi.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("register/", views.register_view, name="register"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.settings_view, name="settings"),
    path("messages/", views.notifications_view, name="notifications"),
]
