"""Settings for benchmark servers: cocreate's own, plus two reference pages (``bench/app_urls.py``).

Used only by the ``bench/`` scripts (``DJANGO_SETTINGS_MODULE=bench.app_settings``); never deployed.
"""

from cocreate.settings import *  # noqa: F403

ROOT_URLCONF = "bench.app_urls"
