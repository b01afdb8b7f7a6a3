"""A URLconf with one deliberately unscoped list view, to prove the matrix test catches it."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from cocreate.core.models import Household
from cocreate.urls import urlpatterns as real_urlpatterns


def unscoped_household_list(request: HttpRequest) -> HttpResponse:
    # The mistake the matrix must catch: a list that forgets visible_to(user).
    return HttpResponse(", ".join(Household.objects.values_list("number", flat=True)))


urlpatterns = [path("leaky/households/", unscoped_household_list, name="leaky_households"), *real_urlpatterns]
