"""Pages of the core app."""

from django.urls import path

from cocreate.core import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.CocreateLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("text-size/", views.text_size, name="text_size"),
]
