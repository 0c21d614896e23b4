from django.apps import AppConfig


class ShopsConfig(AppConfig):
    name = "jishi.shops"
    label = "shops"
