from django.apps import AppConfig


class RatingsConfig(AppConfig):
    name = "jishi.ratings"
    label = "ratings"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from jishi.core.management.worker import TICK_JOBS, every
        from jishi.ratings import signals
        from jishi.ratings.timers import quality_sweep, ratings_sweep

        user_logged_in.connect(signals.device_on_login, dispatch_uid="ratings.device_on_login")
        if ratings_sweep not in TICK_JOBS:
            TICK_JOBS.append(ratings_sweep)
            TICK_JOBS.append(every(600)(quality_sweep))
