"""Reports built from the tickets' event record."""
