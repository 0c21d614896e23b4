import os

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the marketplace (ASGI, uvicorn) with a background worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=1, help="uvicorn processes")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not run the background worker in this process "
            "(run `jishi worker` separately).",
        )
        parser.add_argument("--migrate", action="store_true", help="Migrate before serving.")

    def handle(self, *args, host, port, workers, no_worker, migrate, **options):
        import uvicorn

        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
        if not no_worker:
            from jishi.core.management.worker import worker_start_thread

            worker_start_thread()
        self.stdout.write(f"Jishi is serving on http://{host}:{port}/  (Ctrl-C stops it)")
        uvicorn.run(
            "jishi.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            lifespan="off",
            proxy_headers=True,
        )
