"""Engineers: their skills, shifts, location and load."""
