"""Tickets: creation, changes, events, moves and the timeline."""
