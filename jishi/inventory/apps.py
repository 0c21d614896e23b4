from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "jishi.inventory"
    label = "inventory"
