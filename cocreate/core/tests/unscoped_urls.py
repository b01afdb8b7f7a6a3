"""A URLconf with deliberately unscoped views (a list, a write, a public page that shows drafts),
to prove the matrix catches them."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from cocreate.core import access
from cocreate.core.models import Household
from cocreate.participation.models import Notice
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


@access.public_view
def leaky_public_notices(request: HttpRequest, code: str) -> HttpResponse:
    # The public page's mistake: listing a community's notices without access.public(), drafts too.
    return HttpResponse(", ".join(Notice.objects.filter(region__code=code).values_list("title", flat=True)))


urlpatterns = [
    path("leaky/public/<str:code>/notices/", leaky_public_notices, name="public_notice_leaky_list"),
    path("leaky/households/", unscoped_household_list, name="leaky_households"),
    path("leaky/households/<int:pk>/rename/", unscoped_household_rename, name="household_leaky_rename"),
    *real_urlpatterns,
]
