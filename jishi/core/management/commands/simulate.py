from django.core.management.base import BaseCommand, CommandError

from jishi.simulation import simulate


class Command(BaseCommand):
    help = (
        "Rehearse the marketplace: a randomised run of many buyers and shops on the configured "
        "database (concurrent checkouts of scarce stock, payments, retries, shipping, "
        "confirmation, refunds, withdrawals and time jumps that fire every timer), then the "
        "ledger check and the stock and money invariants. It also runs after-sales: refunds of "
        "every kind, their timers, escalations, rulings and advance compensation. "
        "The same seed gives the same plan; "
        "--workers 1 makes every count reproducible. Exits non-zero if any invariant fails. "
        "The time jumps fire only the run's own timers; other orders in the database are untouched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--orders", type=int, default=500, help="Checkouts to attempt.")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="Threads for the concurrent phases (default: 4 on SQLite, 8 on PostgreSQL).",
        )

    def handle(self, *args, seed, orders, workers, **options):
        if orders < 1:
            raise CommandError("--orders must be at least 1")
        report = simulate(seed=seed, orders=orders, workers=workers, write=self.stdout.write)
        if not report.ok:
            raise CommandError(f"simulation failed: {len(report.problems)} problems")
