from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "jishi.orders"
    label = "orders"

    def ready(self) -> None:
        from jishi.core.management.worker import TICK_JOBS
        from jishi.orders.timers import orders_sweep

        if orders_sweep not in TICK_JOBS:
            TICK_JOBS.append(orders_sweep)
