"""Jishi (集市): an open-source marketplace platform with guaranteed trade."""
