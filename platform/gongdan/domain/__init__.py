"""The domains: one folder each, with its schemas, services and controllers."""
