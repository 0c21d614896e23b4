"""Ratings tests reuse the trade fixtures: a shop with stock and a funded buyer."""

from tests.trade.conftest import frozen_clock, make_buyer, make_listing, trade  # noqa: F401
