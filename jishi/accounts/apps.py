from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "jishi.accounts"
    label = "accounts"

    def ready(self) -> None:
        from jishi.accounts import delivery  # noqa: F401  registers the outbox handler
