"""Pages of the core app: login, home (我的待办), text size."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cocreate.core import selectors
from cocreate.core.context_processors import LARGE_TEXT_COOKIE
from cocreate.core.forms import PhoneLoginForm


class CocreateLoginView(LoginView):
    form_class = PhoneLoginForm
    template_name = "core/login.html"
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("core:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    todo = selectors.todo_for(user=request.user)
    return render(request, "core/home.html", {"todo": todo})


@require_POST
def text_size(request: HttpRequest) -> HttpResponse:
    """Turns large text on or off; kept in a cookie and, when signed in, on the account."""
    large = request.POST.get("large") == "1"
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response: HttpResponse = HttpResponseRedirect(target)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
    response.set_cookie(LARGE_TEXT_COOKIE, "1" if large else "0", max_age=365 * 24 * 3600, samesite="Lax")
    if request.user.is_authenticated:
        from cocreate.core import services

        services.user_set_large_text(user=request.user, large=large)
    return response
