"""Business lines: forms, state machines and rulesets."""
