"""Org-chart sync: departments become teams, people become users and engineers."""
