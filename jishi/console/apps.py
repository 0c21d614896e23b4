from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "jishi.console"
    label = "console"
