"""The rehearsal behind `jishi simulate --seed N --orders M`.

A randomised marketplace runs in one process on the configured database, through the same
services the site uses:

1. **Plan** (jishi.simulation.plan): ``random.Random(seed)`` makes every choice up front — the
   shops, their shipping templates and listings (scarce SKUs with 1–5 units and plentiful
   ones; stock deducted at order or at payment; deposits), the buyers and their money, and
   for each checkout what the buyer and the seller will do, including after-sales: which line
   gets a request (refund only, return and refund, exchange; before shipment, before receipt
   or after release), and what each party then does in each status — agree, refuse, stay
   silent, ship the return, revise, cancel, escalate, add evidence, withdraw — and how the
   arbitrator rules. The first cases walk every path in turn (plan.SCENARIOS), so a small run
   takes them all. Same seed, same plan (its digest is printed).
2. **World** (jishi.simulation.world): the plan's users, shops and products are created with a
   run tag in their names, so runs never collide. Wallets are funded through the sandbox
   bank's signed callbacks, some replayed, some forged; some owners pay a deposit from their
   wallet; an arbitrator operator is created.
3. **Rounds** (jishi.simulation.execute), each: concurrent checkouts racing for scarce stock →
   address changes → payments (wrong PINs, lockouts, insufficient funds, double payments) →
   cancellations, refunds and after-sales requests before shipment → the sellers answer →
   shipping → +49 h (unpaid orders close, late shipments are flagged and compensated, silent
   sellers agree) → late shipping → confirmations (twice at once, replayed, by the wrong
   buyer) and requests before receipt and after release → advances → the parties act →
   +180 h (more timers) → receipt extensions, never-shipped orders refunded → rulings →
   shop deposits and withdrawals with the outbox drained → +73 h (auto-confirm). Then +30
   days, requests after the window (refused), and 11-day jumps until every case and order is
   final; last withdrawals. Every after-sales action runs in a lane per case, concurrently;
   planned races (two requests on one line, a cancel against an agreement, a second ruling)
   must end with exactly one winner.
4. **Checks** (jishi.simulation.checks): `jishi ledger check` plus stock, order, case, wallet,
   shop, deposit, debt and commission invariants recomputed from independent records.

The time jumps move jishi.core.clock for the whole process, but the sweeps fire only the run's
own orders' and cases' timers, so a rehearsal on a live or demo database never closes,
confirms, flags or refunds anyone else's order early; the clock is put back at the end.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.test.utils import override_settings

from jishi.core import clock
from jishi.core.money import format_fen
from jishi.ledger.check import CheckReport
from jishi.simulation.checks import RunRecords, checks_run
from jishi.simulation.execute import Runner, Tally
from jishi.simulation.plan import plan_make
from jishi.simulation.world import world_build

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Counts that do not depend on how the threads interleave (they follow from the plan alone).
PLANNED = (
    "topups",
    "topup callbacks replayed",
    "forged callbacks refused",
    "checkout twins (same key, at once)",
    "checkout replays (same key, later)",
)


@dataclass
class SimulationReport:
    seed: int
    orders: int
    workers: int
    digest: str = ""
    tag: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ledger: CheckReport | None = None
    money: dict[str, int] = field(default_factory=dict)
    aftersales: dict[str, int] = field(default_factory=dict)  # cases, disputes, violations
    seconds: dict[str, float] = field(default_factory=dict)
    # Runs the checks again on the finished run (a test corrupts a record, then rechecks).
    recheck: Callable[[], tuple] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.problems and self.ledger is not None and self.ledger.ok


def simulate(
    *, seed: int, orders: int, workers: int | None = None, write: Callable[[str], None] = print
) -> SimulationReport:
    """Plan, build, run and check one rehearsal; ``workers`` defaults to 4 threads on SQLite
    (writers queue on one lock there: more threads only wait longer) and 8 elsewhere."""
    if workers is None:
        workers = 4 if connection.vendor == "sqlite" else 8
    plan = plan_make(seed=seed, orders=orders)
    tally = Tally()
    started = time.perf_counter()
    with override_settings(PASSWORD_HASHERS=FAST_HASHER):
        world = world_build(plan, tally=tally)
        built = time.perf_counter()
        runner = Runner(plan, world, workers=workers, tally=tally)
        report = SimulationReport(
            seed=seed, orders=orders, workers=runner.workers, digest=plan.digest(), tag=world.tag
        )
        write(
            f"Jishi simulation: seed {seed}, {orders} checkouts, {runner.workers} workers, "
            f"{connection.vendor}, plan {report.digest}, run tag {world.tag}"
        )
        write(
            f"  world: {len(world.shops)} shops, {len(world.skus)} SKUs "
            f"({sum(1 for _s, _p, _k, sku in plan.skus() if sku.scarce)} scarce), "
            f"{len(world.buyers)} buyers, built in {built - started:.1f}s"
        )
        try:
            runner.run()
        finally:
            clock.advance(-runner.advanced)
        ran = time.perf_counter()
        records = RunRecords(
            known_orders=set(runner.order_of.values()),
            extra_topups=runner.extra_topups_fen,
            unchanged_postage=set(runner.order_of.values()) - runner.address_after_pay,
            deposits_from_shop=runner.deposits_from_shop_fen,
            cases=set(runner.cases),
        )
        ledger, problems, money, aftersales = checks_run(world, records)
        checked = time.perf_counter()
    report.counts = dict(sorted(tally.counts.items()))
    report.problems = tally.problems + problems + ledger.problems
    report.warnings = tally.warnings
    report.ledger = ledger
    report.money = money
    report.aftersales = aftersales
    report.recheck = lambda: checks_run(world, records)
    report.seconds = {
        "setup": built - started,
        "run": ran - built,
        "checks": checked - ran,
        **{f"phase {k}": v for k, v in runner.phase_seconds.items()},
    }
    _print(report, write)
    return report


def _print(report: SimulationReport, write: Callable[[str], None]) -> None:
    varies = report.workers > 1
    write(
        "  counts"
        + (
            "  (* = may vary with thread interleaving; --workers 1 fixes them)"
            if varies
            else "  (all reproducible for this seed)"
        )
    )
    for name, value in report.counts.items():
        if name == "withdrawn fen":
            continue
        mark = "*" if varies and name not in PLANNED else " "
        write(f"   {mark} {name:<58} {value:>7}")
    write("  after-sales (from the database at the end)")
    for name, value in report.aftersales.items():
        shown = format_fen(value) if name.endswith(" fen") or "fen " in name else value
        write(f"     {name:<58} {shown:>12}")
    write("  money")
    for name, value in report.money.items():
        write(f"     {name:<58} {format_fen(value):>12}")
    seconds = report.seconds
    placed = report.counts.get("orders placed", 0)
    checkout_seconds = seconds.get("phase checkout", 0.0)
    write("  time")
    for name, value in seconds.items():
        write(f"     {name:<58} {value:>7.2f}s")
    per_second = placed / max(seconds["run"], 1e-9)
    write(f"     {'orders placed per second (whole run)':<58} {per_second:>7.1f}")
    attempts = report.counts.get("checkouts placed", 0) + report.counts.get(
        "checkouts refused: out of stock", 0
    )
    per_second = attempts / max(checkout_seconds, 1e-9)
    write(f"     {'checkouts per second (checkout phase)':<58} {per_second:>7.1f}")
    ledger = report.ledger
    if ledger is not None:
        write(
            f"  ledger check: {ledger.accounts} accounts, {ledger.transfers} transfers, "
            f"{ledger.orders} orders, debits {format_fen(ledger.total_debits)} = credits "
            f"{format_fen(ledger.total_credits)}, drift {len(ledger.problems)}"
        )
    for warning in report.warnings[:20]:  # a retry is safe, but means writers waited long
        write(f"  WARNING {warning}")
    for problem in report.problems[:100]:
        write(f"  PROBLEM {problem}")
    if len(report.problems) > 100:
        write(f"  ... and {len(report.problems) - 100} more problems")
    write(
        "  OK: every invariant holds" if report.ok else f"  FAILED: {len(report.problems)} problems"
    )
