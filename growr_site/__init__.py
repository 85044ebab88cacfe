"""Django project package of a Growr node: settings, URL map, ASGI and WSGI entry points."""

# Load the Celery app whenever Django starts so that @shared_task binds to it.
from celery_worker import app as celery_app

__all__ = ("celery_app",)
