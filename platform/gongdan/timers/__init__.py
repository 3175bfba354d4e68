"""Durable timers: SLA warnings and breaches, dwell alerts, claim time-outs, archive."""
