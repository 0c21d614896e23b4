from django.core.management.base import BaseCommand

from jishi.core.management.worker import worker_loop, worker_tick


class Command(BaseCommand):
    help = "Run background work: deliver the outbox and fire due timers (safe to run many)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")
        parser.add_argument("--idle-seconds", type=float, default=1.0)

    def handle(self, *args, once=False, idle_seconds=1.0, **options):
        if once:
            self.stdout.write(f"handled {worker_tick()}")
            return
        import threading

        stop = threading.Event()
        self.stdout.write("jishi worker running; Ctrl-C stops it")
        try:
            worker_loop(stop=stop, idle_seconds=idle_seconds)
        except KeyboardInterrupt:
            stop.set()
