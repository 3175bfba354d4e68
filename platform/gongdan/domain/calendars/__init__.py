"""Business calendars by name: `on calendar "工作日"` in the rules resolves through them."""
