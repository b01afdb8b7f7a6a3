"""One settings module for cocreate, driven by environment variables (12-factor).

Every setting that differs between a laptop, CI and a county's production servers is read
from the environment here; nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COCREATE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into var/ and kept."""
    key = env("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
# Under pytest the suite runs jobs immediately and uses fast hashing; nothing else changes.
TESTING = env_bool("COCREATE_TESTING", "pytest" in sys.modules)
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "simple_history",
    "axes",
    "huey.contrib.djhuey",
    "ninja",
    "cocreate.core",
    "cocreate.plans",
    "cocreate.participation",
    "cocreate.cases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Records every write by a signed-in user and every export, after the response (docs/operations.md).
    "cocreate.core.audit.AuditMiddleware",
    "cocreate.core.middleware.SessionIdleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # After authentication: a keyed write API request and its stored answer share one transaction.
    "cocreate.core.idempotency.IdempotencyMiddleware",
    "cocreate.core.middleware.SecurityHeadersMiddleware",
    # AxesMiddleware must be last: it turns a lockout into a response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cocreate.urls"
WSGI_APPLICATION = "cocreate.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cocreate" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "cocreate.core.context_processors.ui",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Default: an SQLite file under var/, so the first run needs no server at all.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'cocreate.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the job consumer share the file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Kept open like PostgreSQL's (DB_CONN_MAX_AGE): reopening the file on every request ran the
    # PRAGMAs above each time, and under two workers their locks made a signed-in page wait.
else:
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env("TEST_DATABASE_NAME", "test_cocreate")
    # JIT compilation costs PostgreSQL more than it saves on dashboard-sized queries (720 ms of
    # compiling for a 270 ms query in bench/plans_dashboard).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that reads the socket instead of sending SELECT 1
        # on every request (cocreate/core/pgbackend/base.py).
        DATABASES["default"]["ENGINE"] = "cocreate.core.pgbackend"
    if env_bool("DB_PREPARED_STATEMENTS", True):
        # Statements bound on the server and prepared from their second run: the session, user,
        # scope and version reads of every request skip PostgreSQL's parse and plan. Turn off
        # behind a pooler in transaction mode that cannot keep prepared statements (docs/operations.md).
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 2
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and job queue ----------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cocreate",
        }
    }

HUEY: dict[str, object] = {
    "name": "cocreate",
    # Unit tests run jobs in-process; COCREATE_HUEY_IMMEDIATE=0 lets a test use a real queue.
    "immediate": env_bool("COCREATE_HUEY_IMMEDIATE", TESTING),
    "utc": True,
    "consumer": {"workers": env_int("HUEY_WORKERS", 2), "worker_type": "thread"},
}
if REDIS_URL:
    HUEY.update({"huey_class": "huey.RedisHuey", "url": REDIS_URL})
else:
    HUEY.update(
        {
            "huey_class": "huey.SqliteHuey",
            "filename": str(VAR_DIR / "huey.sqlite3"),
        }
    )

# --- Accounts and security --------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, reading the signed-in user in plain SQL (core/hotpath.py).
    "cocreate.core.hotpath.UserBackend",
]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_ENABLED = env_bool("AXES_ENABLED", True)

# The audit trail is kept this many days (网络安全法 Art. 21: at least six months; a smaller value
# fails the system check) and purged daily by core.jobs.purge_audit.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 180)

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
# Idle timeout: the age counts from the last save, and core.middleware.SessionIdleMiddleware
# saves a signed-in session again once its last save is older than SESSION_REFRESH_SECONDS —
# not on every request, which would cost an UPDATE per page view.
SESSION_SAVE_EVERY_REQUEST = False
# Django's database sessions, loaded in plain SQL on every request (core/hotpath.py).
SESSION_ENGINE = "cocreate.core.hotpath"
SESSION_REFRESH_SECONDS = env_int("SESSION_REFRESH_SECONDS", 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preloading commits the whole registered domain (often a county's gov.cn name shared with other
# systems) to HTTPS in browsers for good: the operator's decision, off unless HSTS_PRELOAD=1.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "cocreate" / "locale"]
# DATE_FORMAT per language for dated documents (cocreate/formats/<locale>/formats.py).
FORMAT_MODULE_PATH = ["cocreate.formats"]
TIME_ZONE = "Asia/Shanghai"
# Office hours of a working day for time limits counted in hours (cocreate.core.workdays).
WORKDAY_HOURS = env("WORKDAY_HOURS", "08:30-12:00,14:00-17:30")
USE_I18N = True
USE_TZ = True

# --- Static and media files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
NODE_MODULES = BASE_DIR / "node_modules"
# Front-end libraries come from npm (package.json, package-lock.json) and are never committed.
STATICFILES_DIRS = [
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
]
# The project's own assets (cocreate/static) are not inside an app, so they are listed here.
STATICFILES_DIRS = [("", BASE_DIR / "cocreate" / "static"), *((p, d) for p, d in STATICFILES_DIRS if d.exists())]
WHITENOISE_USE_FINDERS = DEBUG or TESTING

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
S3_BUCKET = env("S3_BUCKET")
if S3_BUCKET:
    _default_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env("S3_ENDPOINT_URL") or None,
            "access_key": env("S3_ACCESS_KEY_ID") or None,
            "secret_key": env("S3_SECRET_ACCESS_KEY") or None,
            "region_name": env("S3_REGION", "us-east-1"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "addressing_style": "path",
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "cocreate.core.staticstorage.StaticStorage"
        )
    },
}
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Outgoing messages --------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "cocreate@localhost")
# A worker must never hang on a dead mail server: the outbox retries instead.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
# Absolute base for links in e-mails and SMS (e.g. "https://gtdz.example.gov.cn"); empty keeps paths.
SITE_URL = env("SITE_URL").rstrip("/")
if EMAIL_HOST_USER or env("EMAIL_HOST"):
    EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")

# SMS: "console" prints; "http" posts SMS_GATEWAY_BODY (str.format with phone and text) to the URL.
SMS_BACKEND = env("SMS_BACKEND", "console")
SMS_GATEWAY_URL = env("SMS_GATEWAY_URL")
SMS_GATEWAY_METHOD = env("SMS_GATEWAY_METHOD", "POST")
SMS_GATEWAY_BODY = env("SMS_GATEWAY_BODY", '{{"phone": "{phone}", "text": "{text}"}}')
SMS_GATEWAY_CONTENT_TYPE = env("SMS_GATEWAY_CONTENT_TYPE", "application/json")
SMS_GATEWAY_TIMEOUT = env_int("SMS_GATEWAY_TIMEOUT", 10)
# Extra request headers for the gateway as JSON, e.g. '{"Authorization": "Bearer …"}'.
SMS_GATEWAY_HEADERS = env("SMS_GATEWAY_HEADERS", "{}")
SMS_SIGNATURE = env("SMS_SIGNATURE", "【共同缔造】")
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
    "loggers": {
        "cocreate": {"level": env("LOG_LEVEL", "INFO")},
        # The Huey consumer logs through its own handler too; one copy of each line is enough.
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

PAGE_SIZE = env_int("PAGE_SIZE", 25)
# Residents' lists on phones (the community's needs): short pages for small screens and elderly readers.
PHONE_PAGE_SIZE = env_int("PHONE_PAGE_SIZE", 10)

# Personal data at rest (cocreate.core.crypto): Fernet keys, comma-separated, newest first. The
# first encrypts, all decrypt (rotation: docs/operations.md). Empty: a key derived from SECRET_KEY.
COCREATE_DATA_KEYS = [k.strip() for k in env("COCREATE_DATA_KEYS").split(",") if k.strip()]
# Grievances: rework rounds after a dissatisfied rating before escalation or 不合理诉求 review.
CASES_MAX_REWORK_ROUNDS = env_int("CASES_MAX_REWORK_ROUNDS", 2)
# The reminder / 督办 ladder (cases/jobs.py, docs/cases.md): remind the lead unit this many working
# days before a deadline; 督办通知 and 通报 this many working days after it.
CASES_REMIND_BEFORE_WORKDAYS = env_int("CASES_REMIND_BEFORE_WORKDAYS", 1)
CASES_SUPERVISE_AFTER_WORKDAYS = env_int("CASES_SUPERVISE_AFTER_WORKDAYS", 2)
CASES_BULLETIN_AFTER_WORKDAYS = env_int("CASES_BULLETIN_AFTER_WORKDAYS", 5)
# Rates (cases/metrics.py, docs/metrics.md): units with fewer cases are listed without a rank;
# the weights of 满意 / 基本满意 / 不满意 in the satisfaction rate.
CASES_MIN_FOR_RANKING = env_int("CASES_MIN_FOR_RANKING", 5)
CASES_SATISFACTION_WEIGHTS = {"satisfied": "1.0", "basic": "0.8", "dissatisfied": "0"}
# Tracking by code + phone (cases/tracking.py): failed lookups allowed per client IP and per
# tracking code within a window (seconds), counted in the cache; 0 switches a limit off.
CASES_TRACK_FAILURES_PER_IP = env_int("CASES_TRACK_FAILURES_PER_IP", 20)
CASES_TRACK_IP_WINDOW = env_int("CASES_TRACK_IP_WINDOW", 600)
CASES_TRACK_FAILURES_PER_CODE = env_int("CASES_TRACK_FAILURES_PER_CODE", 5)
CASES_TRACK_CODE_WINDOW = env_int("CASES_TRACK_CODE_WINDOW", 3600)
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For (the
# nginx of docs/operations.md: 1). 0: the client is REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Lockout is per account, not per IP: a village office or a township's whole network often
# sits behind one NAT address, and an IP lockout would lock everyone there out at once.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
if not SECURE_HSTS_PRELOAD:
    # security.W021 asks for HSTS preloading, which is the operator's call (HSTS_PRELOAD above).
    SILENCED_SYSTEM_CHECKS.append("security.W021")
