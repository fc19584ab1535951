"""Settings of the test project: what a production site has that matters
to a server (DEBUG off, ALLOWED_HOSTS, the CSRF and common middleware),
and nothing that needs a database."""

SECRET_KEY = "test-only-not-secret"
DEBUG = False
# request_bytes() sends "Host: x" unless told otherwise.
ALLOWED_HOSTS = ["x", "127.0.0.1", "localhost"]
ROOT_URLCONF = "django_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",        # APPEND_SLASH redirects
    "django.middleware.csrf.CsrfViewMiddleware",
]
DATABASES: dict[str, dict] = {}
TEMPLATES: list[dict] = []
USE_TZ = True
# Without Django's logging setup (console and mail_admins handlers): its
# loggers (django.request reports 404s and 500s) propagate to pytest's.
LOGGING_CONFIG = None
