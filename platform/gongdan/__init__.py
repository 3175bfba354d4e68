"""gongdan (工单): the work-order platform server."""

__version__ = "0.1.0.dev0"
