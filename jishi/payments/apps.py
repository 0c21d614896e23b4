from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "jishi.payments"
    label = "payments"

    def ready(self) -> None:
        from jishi.payments.channels import sandbox  # noqa: F401  registers its outbox handler
