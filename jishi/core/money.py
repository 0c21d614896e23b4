"""Money is an integer number of fen (分). Never a float."""

from dataclasses import dataclass

FEN_PER_YUAN = 100
AMOUNT_FEN_MAX = 100_000_000_00  # 100 million yuan: far above any single price


@dataclass(frozen=True, slots=True, order=True)
class Money:
    fen: int

    def __post_init__(self) -> None:
        if not isinstance(self.fen, int) or isinstance(self.fen, bool):
            raise TypeError("Money is an integer number of fen")

    def __add__(self, other: "Money") -> "Money":
        return Money(self.fen + other.fen)

    def __sub__(self, other: "Money") -> "Money":
        return Money(self.fen - other.fen)

    def __mul__(self, quantity: int) -> "Money":
        return Money(self.fen * quantity)

    def __str__(self) -> str:
        return format_fen(self.fen)


def format_fen(fen: int) -> str:
    """12345 -> '123.45' (no currency sign; templates add ¥)."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{yuan:,}.{rest:02d}"


def parse_yuan(text: str) -> int:
    """'12.5' -> 1250 fen, exactly (no float). Raises ValueError on anything else."""
    text = text.strip().replace(",", "")
    if not text or text.startswith(("+", "-")):
        raise ValueError(text)
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 2:
        raise ValueError(text)
    return int(whole) * FEN_PER_YUAN + int((frac + "00")[:2])
