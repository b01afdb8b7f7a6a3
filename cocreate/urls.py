"""Root URLconf: pages per app, the API, Django admin for superusers."""

from django.contrib import admin
from django.urls import include, path

from cocreate.api import api

urlpatterns = [
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("plans/", include("cocreate.plans.urls")),
    path("community/", include("cocreate.participation.urls")),
    path("cases/", include("cocreate.cases.urls")),
    path("", include("cocreate.core.urls")),
]
