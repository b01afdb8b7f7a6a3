"""cocreate's URLs plus two reference pages that show what any signed-in page costs here.

* ``/bench/signed-in/``: the whole middleware stack, the session and the login check, then a
  plain ``HttpResponse`` — no query of the view's own, no template.
* ``/bench/base/``: the same plus the site's base template (navigation, notifications badge) with
  an empty body — the least any page of the app renders.

Comparing a page with these tells its own cost apart from the platform's per-request cost.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from cocreate.urls import urlpatterns as app_urlpatterns


@login_required
def signed_in(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@login_required
def base_page(request: HttpRequest) -> HttpResponse:
    return render(request, "base.html", {})


urlpatterns = [
    path("bench/signed-in/", signed_in, name="bench_signed_in"),
    path("bench/base/", base_page, name="bench_base"),
    *app_urlpatterns,
]
