"""Production: DEBUG off, HTTPS-only cookies and HSTS; SECRET_KEY and ALLOWED_HOSTS required."""

import os

os.environ.setdefault("DEBUG", "0")

from semweb.settings.base import *  # noqa: E402,F403
from semweb.settings.base import CACHES, CELERY_BROKER_URL, DEBUG  # noqa: E402
from semweb.settings.env import env_bool, env_int  # noqa: E402

if DEBUG:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("DEBUG must be off with semweb.settings.production")

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_AGE = 60 * 60 * 12

# Several gunicorn workers must share the login rate limiter's counts.
if CACHES["default"]["BACKEND"].endswith("LocMemCache") and CELERY_BROKER_URL.startswith("redis"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CELERY_BROKER_URL,
            "KEY_PREFIX": "semweb-cache",
        }
    }
