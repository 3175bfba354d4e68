"""Storage: Piccolo tables, migrations, and the engine chosen from the database URL."""
