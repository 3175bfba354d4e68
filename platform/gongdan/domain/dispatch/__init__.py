"""Dispatch: routing by the line's rules, offers, atomic claims, transfers, explanations."""
