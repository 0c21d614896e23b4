from django.apps import AppConfig


class AftersalesConfig(AppConfig):
    name = "jishi.aftersales"
    label = "aftersales"

    def ready(self) -> None:
        from jishi.aftersales.timers import cases_sweep
        from jishi.core.management.worker import TICK_JOBS

        if cases_sweep not in TICK_JOBS:
            TICK_JOBS.append(cases_sweep)
