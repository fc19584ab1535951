from django.urls import path

from django_site import views

urlpatterns = [
    path("", views.index),
    path("articles/<int:year>/", views.articles),
    path("form/", views.form),
    path("go/", views.go),
    path("upload/", views.upload),
    path("crash/", views.crash),
]
