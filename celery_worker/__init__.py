"""The Celery app of a Growr node: configuration, beat schedule and worker signals."""

from .app import app

__all__ = ("app",)
