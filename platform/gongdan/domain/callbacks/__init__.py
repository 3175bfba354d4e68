"""Inbound callbacks (approval results) and the approvals started for tickets."""
