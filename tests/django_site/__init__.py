"""A minimal Django project for test_django.py: no database, no templates,
DEBUG off, CSRF on (DJANGO_SETTINGS_MODULE=django_site.settings)."""
