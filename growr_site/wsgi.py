"""WSGI entry point, for tools that need one; the node itself serves through ASGI."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "growr_site.settings.local")
application = get_wsgi_application()
