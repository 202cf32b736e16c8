"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...`` from the checkout."""

from web import create_app
from web.runtime import tune_gc

app = create_app()
tune_gc()  # a service process: what start-up made lives as long as it does
