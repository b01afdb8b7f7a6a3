"""A URLconf with deliberately unscoped views (a list, a write), to prove the matrix catches them."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from cocreate.core.models import Household
from cocreate.urls import urlpatterns as real_urlpatterns


def unscoped_household_list(request: HttpRequest) -> HttpResponse:
    # The mistake the matrix must catch: a list that forgets visible_to(user).
    return HttpResponse(", ".join(Household.objects.values_list("number", flat=True)))


@csrf_exempt
def unscoped_household_rename(request: HttpRequest, pk: int) -> HttpResponse:
    # The other mistake: a write that looks the row up without visible_to(user) and changes it.
    if request.method == "POST":
        Household.objects.filter(pk=pk).update(address="被改写的地址")
    return HttpResponse("ok")


urlpatterns = [
    path("leaky/households/", unscoped_household_list, name="leaky_households"),
    path("leaky/households/<int:pk>/rename/", unscoped_household_rename, name="household_leaky_rename"),
    *real_urlpatterns,
]
