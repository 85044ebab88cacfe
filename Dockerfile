# syntax=docker/dockerfile:1
# One image for every Growr node process; GROWR_SERVICES (or runnode --services) picks which run.

FROM python:3.11-slim-bookworm AS wheels
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=growr_site.settings.production \
    GROWR_VAR_DIR=/var/lib/growr \
    PORT=8000
RUN useradd --system --create-home --uid 10001 growr \
    && install -d -o growr -g growr /var/lib/growr
COPY requirements.txt /tmp/requirements.txt
COPY --from=wheels /wheels /wheels
RUN pip install --no-index --find-links /wheels -r /tmp/requirements.txt && rm -rf /wheels
WORKDIR /app
COPY --chown=growr:growr . .
# Static files are collected at build time with throwaway secrets that never reach a container.
RUN SECRET_KEY="collectstatic-only-$(python -c 'import secrets;print(secrets.token_urlsafe(50))')" \
    GROWR_MASTER_KEY="$(python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
    ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/unused.sqlite3 REDIS_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput
USER growr
# 8000: HTTP (behind a TLS proxy); 7946: discovery gossip (TCP).
EXPOSE 8000 7946
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD python -c "import sys,urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/health/', timeout=4).status != 200)"
CMD ["python", "manage.py", "runnode", "--host", "0.0.0.0", "--port", "8000"]
