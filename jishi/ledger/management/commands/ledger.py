import sys

from django.core.management.base import BaseCommand

from jishi.core.money import format_fen
from jishi.ledger.check import ledger_check
from jishi.ledger.models import AccountKind
from jishi.ledger.selectors import kind_total


class Command(BaseCommand):
    help = "Ledger tools. `jishi ledger check` recomputes every balance and every order's money."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check"])

    def handle(self, *args, action, **options):
        report = ledger_check()
        out = self.stdout
        out.write("Jishi ledger check")
        out.write(f"  accounts checked     {report.accounts}")
        out.write(f"  transfers            {report.transfers}")
        out.write(f"  orders checked       {report.orders}")
        out.write(f"  total debits         {format_fen(report.total_debits)}")
        out.write(f"  total credits        {format_fen(report.total_credits)}")
        for kind in AccountKind:
            out.write(f"  {kind.value:<20} {format_fen(kind_total(kind))}")
        out.write(f"  drift                {len(report.problems)}")
        for problem in report.problems[:200]:
            out.write(self.style.ERROR(f"  DRIFT {problem}"))
        if not report.ok:
            sys.exit(1)
        out.write(self.style.SUCCESS("  OK: zero drift"))
