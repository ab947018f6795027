"""Settings shared by every environment, read from the environment (see README, "Settings").

Embedded defaults let `make run` work with nothing installed: SQLite under `var/` and kombu's
filesystem broker, so the Celery code path is the production one. `DATABASE_URL` and
`CELERY_BROKER_URL` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from semweb.settings.env import env_bool, env_float, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(env_str("SEMWEB_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Reverse proxies (addresses or networks, e.g. "127.0.0.1,10.0.0.0/8") whose X-Forwarded-For
# names the client; the login limiter keys on that client address (semweb.labs.ratelimit).
SEMWEB_TRUSTED_PROXIES = env_networks("SEMWEB_TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_results",
    "semweb.audit",
    "semweb.labs",
    "semweb.catalogue",
    "semweb.analyses",
    "semweb.review",
    "semweb.datasets",
    "semweb.mlmodels",
    "semweb.api",
    "semweb.core",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "semweb.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "semweb.urls"
WSGI_APPLICATION = "semweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_from_env() -> dict:
    url = env_str("DATABASE_URL")
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # SQLite is the zero-setup default; the timeout lets web and worker share it.
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "semweb.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    try:
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj_database_url raises several types for bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every password check (login page, admin login) goes through the login rate limit.
AUTHENTICATION_BACKENDS = ["semweb.labs.ratelimit.RateLimitedModelBackend"]


def _cache_from_env() -> dict:
    """The login rate limiter counts in the cache, so several web processes must share one:
    `CACHE_URL=redis://…` (the production default falls back to a Redis broker's URL)."""
    url = env_str("CACHE_URL")
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if not url.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured(f"CACHE_URL={url!r}: only redis:// URLs are supported")
    return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}


CACHES = {"default": _cache_from_env()}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
# WhiteNoise scans STATIC_ROOT at start-up and warns when it is missing (before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Media is never served from a public URL: every file goes through a permission-checked view.
MEDIA_URL = "/files/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: the per-file limit is checked before decoding; Django streams larger bodies to disk.
SEMWEB_MAX_UPLOAD_MB = env_int("SEMWEB_MAX_UPLOAD_MB", 200, minimum=1)
SEMWEB_MAX_IMAGE_MEGAPIXELS = env_int("SEMWEB_MAX_IMAGE_MEGAPIXELS", 100, minimum=1)
# Memory one upload may take to decode, calibrate and preview in the web process (estimated from
# the header before decoding; catalogue.services.decode_bytes_estimate). 768 MB admits a 48 MP
# grey or 24 MP colour frame; an 8000 × 8000 PNG bomb (~1 GB to decode) is refused.
SEMWEB_DECODE_BUDGET_MB = env_int("SEMWEB_DECODE_BUDGET_MB", 768, minimum=16)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("SEMWEB_MAX_FILES_PER_UPLOAD", 200, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Celery: JSON only, late acks and prefetch 1 so a killed worker's task is redelivered.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or "django-db"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("SEMWEB_TASK_TIME_LIMIT_S", 900, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30 if CELERY_TASK_TIME_LIMIT > 60 else None
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Without this kombu writes its broadcast exchange files into the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}

# Analysis runs (semweb.analyses): the engine callable, worker heartbeats and the reaper.
SEMWEB_ENGINE = env_str("SEMWEB_ENGINE", "semweb.analyses.engine.run_pipeline")
SEMWEB_HEARTBEAT_S = env_int("SEMWEB_HEARTBEAT_S", 15, minimum=1)
# No heartbeat for this long = the worker died; the reaper requeues (or fails) the run.
SEMWEB_RUN_STALE_S = env_int("SEMWEB_RUN_STALE_S", 120, minimum=2)
SEMWEB_RUN_MAX_ATTEMPTS = env_int("SEMWEB_RUN_MAX_ATTEMPTS", 3, minimum=1)

# Lab models (semweb.mlmodels): fine-tuning on a dataset's approved runs. Training uses the
# same heartbeat / stale / attempts settings as analysis runs.
# Wall-time budget of one training (hours); a request may ask for less, never more.
SEMWEB_TRAIN_MAX_HOURS = env_float("SEMWEB_TRAIN_MAX_HOURS", 2.0, minimum=0.001)
SEMWEB_TRAIN_MAX_EPOCHS = env_int("SEMWEB_TRAIN_MAX_EPOCHS", 300, minimum=1)
SEMWEB_TRAIN_DEFAULT_EPOCHS = env_int("SEMWEB_TRAIN_DEFAULT_EPOCHS", 20, minimum=1)
# Fewest real accepted particles the training split must hold; measured as a gain-vs-size
# curve (semweb/mlmodels/services.py docstring, benchmarks/train_floor.py).
SEMWEB_TRAIN_MIN_PARTICLES = env_int("SEMWEB_TRAIN_MIN_PARTICLES", 30, minimum=1)
# Network input size; 0 = the parent model's (its sidecar), the size inference will use.
SEMWEB_TRAIN_IMGSZ = env_int("SEMWEB_TRAIN_IMGSZ", 0, minimum=0)
SEMWEB_TRAIN_BATCH = env_int("SEMWEB_TRAIN_BATCH", 8, minimum=1)
SEMWEB_TRAIN_DEVICE = env_str("SEMWEB_TRAIN_DEVICE", "cpu")
# Checkpoints and exported training sets (local disk of the worker; resume needs the same).
SEMWEB_TRAINING_DIR = Path(env_str("SEMWEB_TRAINING_DIR", str(VAR_DIR / "training")))
SEMWEB_MODEL_MAX_MB = env_int("SEMWEB_MODEL_MAX_MB", 200, minimum=1)
SEMWEB_TRAINER = env_str("SEMWEB_TRAINER", "semweb.mlmodels.engine.train_and_evaluate")

# Learned styles (semweb.mlmodels.styles): a mask-conditioned generator per dataset, trained
# on the `gpu` queue (the CPU worker takes it when no GPU worker runs) within a wall-time budget.
SEMWEB_STYLE_MAX_MINUTES = env_float("SEMWEB_STYLE_MAX_MINUTES", 60.0, minimum=0.01)
# Training crop side (px, multiple of 8; smaller training images shrink it). 128 on CPU: a step
# took 9.6 s at 128 and 36 s at 256 on the shared 2-core box; set 256-512 for a GPU worker.
SEMWEB_STYLE_CROP_PX = env_int("SEMWEB_STYLE_CROP_PX", 128, minimum=16)
# A cap on training steps (0 = none, the wall-time budget alone); tests use a few steps.
SEMWEB_STYLE_MAX_STEPS = env_int("SEMWEB_STYLE_MAX_STEPS", 0, minimum=0)
# How often the checkpoint, loss curve and sample sheet are written (and shown on the page).
SEMWEB_STYLE_CHECKPOINT_S = env_float("SEMWEB_STYLE_CHECKPOINT_S", 60.0, minimum=0.0)
# Side of each generated micrograph (px) and the most one request may generate.
SEMWEB_STYLE_IMAGE_PX = env_int("SEMWEB_STYLE_IMAGE_PX", 512, minimum=32)
SEMWEB_STYLE_MAX_IMAGES = env_int("SEMWEB_STYLE_MAX_IMAGES", 200, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "semweb.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SEMweb API",
    "DESCRIPTION": "Micrographs in, particle size and shape statistics out.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema lists every endpoint and field: for signed-in users and token holders only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Several resources have a `status` with their own choices: one schema name per set.
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "semweb.analyses.models.RunStatus",
        "ModelStatusEnum": "semweb.mlmodels.models.ModelStatus",
        # Generations and exports share one choice set (queued/running/succeeded/failed).
        "JobStatusEnum": "semweb.mlmodels.models.GenerationStatus",
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set (or SECRET_KEY_FILE)")
