import unicodedata

from django.core.management.base import BaseCommand

from jishi.core.demo import credentials, demo_seed


def _pad(text: str, width: int) -> str:
    """Left-align for a terminal, where a Chinese character takes two columns."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


class Command(BaseCommand):
    help = (
        "Load the demo marketplace (county specialties in Chinese: shops, products, "
        "buyer, sellers, operators). Running it again changes nothing."
    )

    def handle(self, *args, **options):
        report = demo_seed()
        if report is None:
            self.stdout.write("demo data already present")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"demo data loaded in {report.seconds:.1f}s: {report.shops} shops, "
                    f"{report.categories} categories, {report.products} products "
                    f"({report.listed} on sale), {report.skus} SKUs, {report.images} images"
                )
            )
        self.stdout.write("\nDemo accounts (who, username, password, notes):")
        for who, username, password, notes in credentials():
            columns = (_pad(who, 11), _pad(username, 16), _pad(password, 11), notes)
            self.stdout.write("  " + " ".join(columns))
