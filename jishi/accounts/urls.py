from django.urls import path

from jishi.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("register/", views.register_view, name="register"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.settings_view, name="settings"),
    path("addresses/", views.addresses_view, name="addresses"),
    path("addresses/<int:address_id>/", views.address_edit_view, name="address_edit"),
    path("addresses/<int:address_id>/delete/", views.address_delete_view, name="address_delete"),
    path("addresses/<int:address_id>/default/", views.address_default_view, name="address_default"),
    path("messages/", views.notifications_view, name="notifications"),
    path("messages/read/", views.notifications_read_view, name="notifications_read"),
]
