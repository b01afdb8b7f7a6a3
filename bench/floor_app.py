"""The floor: one plain Django JSON view, no middleware, no database, no templates.

It is both the settings module and the URLconf (``DJANGO_SETTINGS_MODULE=bench.floor_app``), so
what it measures is gunicorn plus Django's request/response cycle and nothing of cocreate.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

SECRET_KEY = "bench-floor-not-a-secret"  # throwaway app, never deployed
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
MIDDLEWARE: list[str] = []
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, Any] = {}
USE_TZ = True
USE_I18N = False


def ok(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "n": 1})


urlpatterns = [path("", ok)]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", __name__)
application = get_wsgi_application()
