"""Pages of the core app: login, home (我的待办), text size, and the administration pages
for regions, units, people, households, memberships, notifications, history and evidence.

Views only parse input, fetch objects through the access authority, call one service or
selector and render; the rules live in ``access``, ``services`` and ``selectors``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cocreate.core import access, privacy, selectors, services
from cocreate.core.concurrency import StaleEdit, split_version
from cocreate.core.context_processors import LARGE_TEXT_COOKIE
from cocreate.core.forms import (
    AccountCreateForm,
    AttachmentUploadForm,
    HouseholdEditForm,
    HouseholdForm,
    HouseholdMemberForm,
    MembershipForm,
    PersonEditForm,
    PersonForm,
    PhoneLoginForm,
    RegionCreateForm,
    RegionEditForm,
    UnitEditForm,
    UnitForm,
    apply_service_errors,
)
from cocreate.core.models import (
    ApiToken,
    Attachment,
    Household,
    Membership,
    Notification,
    Person,
    Region,
    RegionLevel,
    Role,
    Unit,
    UnitKind,
)

ViewFunc = Callable[..., HttpResponse]


class CocreateLoginView(LoginView):
    form_class = PhoneLoginForm
    template_name = "core/login.html"
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("core:login")


def home(request: HttpRequest) -> HttpResponse:
    """我的待办 for a signed-in user; for everyone else the public front page with the way in."""
    if not request.user.is_authenticated:
        return render(request, "core/welcome.html")
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
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
    response.set_cookie(LARGE_TEXT_COOKIE, "1" if large else "0", max_age=365 * 24 * 3600, samesite="Lax")
    if request.user.is_authenticated:
        services.user_set_large_text(user=request.user, large=large)
    return response


# --- Shared helpers -------------------------------------------------------------------------------


def staff_required(view: ViewFunc) -> ViewFunc:
    """Signed in and holding a staff role somewhere; residents get 403 on management pages."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        scope = access.scope_of(request.user)
        if not (scope.is_superuser or scope.is_staff_member):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _require_manageable(user: Any, roles: frozenset[str]) -> None:
    """Create pages answer 403 to users who manage no region for the model at all."""
    if not access.manageable_regions(user, roles).exists():
        raise PermissionDenied


def _require_change(user: Any, obj: models.Model) -> None:
    """Edit pages of an object the user can see but not change answer 404, like a missing one."""
    if not access.can(user, access.CHANGE, obj):
        raise Http404("not found")


def _paginate(
    request: HttpRequest,
    queryset: QuerySet[Any] | list[Any],
    param: str = "page",
    *,
    per_page: int | None = None,
    count: int | None = None,
) -> Page:
    """A page of ``queryset``: ``settings.PAGE_SIZE`` rows (desktop lists) unless ``per_page`` says otherwise.

    ``count``: the number of rows when the caller already knows it (no second COUNT query).
    """
    paginator = Paginator(queryset, per_page or settings.PAGE_SIZE)
    if count is not None:
        paginator.count = count
    return paginator.get_page(request.GET.get(param))


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _render_form(
    request: HttpRequest,
    form: Any,
    *,
    title: str,
    cancel_url: str,
    submit: str | None = None,
    status: int | None = None,
    **extra: Any,
) -> HttpResponse:
    context = {"form": form, "title": title, "cancel_url": cancel_url, "submit_label": submit or _("保存"), **extra}
    if status is None:
        status = 400 if form.is_bound and form.errors else 200
    return render(request, "core/form.html", context, status=status)


def _versioned(cleaned: dict[str, Any]) -> dict[str, Any]:
    """An edit form's data and the edit version it was rendered with, as the services take them."""
    data, expected = split_version(cleaned)
    return {"data": data, "expected_version": expected}


def _stale_form(form: Any, exc: StaleEdit) -> dict[str, Any]:
    """Keeps the user's input, arms the form with the current version and says what changed.

    Saving again after checking is a deliberate overwrite, so the form now carries the version
    the record has now; a third change in between is refused again.
    """
    data = form.data.copy()
    data["expected_version"] = exc.current
    form.data = data
    form.add_error(None, exc)
    return {"conflict_fields": exc.changed_text}


def _form_page(
    request: HttpRequest,
    form: Any,
    *,
    save: Callable[[dict[str, Any]], Any],
    done: Callable[[Any], tuple[str, str]],
    title: str,
    cancel_url: str,
    submit: str | None = None,
) -> HttpResponse:
    """The one create/edit flow: validate, call the service, show its errors on the form, redirect.

    ``save`` calls a service with the cleaned data; ``done`` turns its result into the success
    message and the address to go to. A PermissionDenied from the service answers 404.
    """
    if request.method == "POST" and form.is_valid():
        try:
            result = save(form.cleaned_data)
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except StaleEdit as exc:
            # 409 as the API answers; the record's page (cancel_url) shows what it is now.
            conflict = _stale_form(form, exc)
            return _render_form(
                request, form, title=title, cancel_url=cancel_url, submit=submit, status=409, **conflict
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            message, url = done(result)
            messages.success(request, message)
            return redirect(url)
    return _render_form(request, form, title=title, cancel_url=cancel_url, submit=submit)


def _service_errors_as_message(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(str(m) for m in exc.messages))


def _evidence_context(request: HttpRequest, target: models.Model) -> dict[str, Any]:
    """What every detail page shows in its evidence panel: the list and the upload form."""
    found = selectors.attachments_for(user=request.user, target=target)
    # A record without files lists nothing (even an empty queryset builds its SELECT when asked).
    attachments = [] if found.query.is_empty() else found.select_related("uploaded_by__person")
    return {
        "attachments": attachments,
        "upload_form": AttachmentUploadForm(),
        "content_type_id": ContentType.objects.get_for_model(type(target)).pk,
    }


# --- Regions --------------------------------------------------------------------------------------


@staff_required
def region_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    level = _int_or_none(request.GET.get("level"))
    page = _paginate(request, selectors.region_list(user=request.user, search=search, level=level))
    can_create = access.manageable_regions(request.user, access.WRITE_ROLES[Region]).exists()
    return render(
        request,
        "core/region_list.html",
        {"page": page, "search": search, "level": level, "levels": RegionLevel.choices, "can_create": can_create},
    )


@staff_required
def region_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    region = access.get_visible_or_404(Region.objects.select_related("parent"), user, pk=pk)
    breadcrumbs = access.visible(region.ancestors(), user)
    children = _paginate(request, selectors.region_list(user=user, parent=region), "children_page")
    units = Unit.objects.visible_to(user).filter(region=region).order_by("name")
    child_probe = Region(parent=region, level=min(region.level + 1, RegionLevel.GRID))
    context = {
        "region": region,
        "breadcrumbs": breadcrumbs,
        "children": children,
        "units": units,
        "can_change": access.can(user, access.CHANGE, region),
        "can_create_child": region.level < RegionLevel.GRID and access.can(user, access.CREATE, child_probe),
        "tab": "detail",
        **_evidence_context(request, region),
    }
    return render(request, "core/region_detail.html", context)


@staff_required
def region_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_manageable(user, access.WRITE_ROLES[Region])
    initial: dict[str, Any] = {}
    parent_id = _int_or_none(request.GET.get("parent"))
    if parent_id:
        parent = access.manageable_regions(user, access.WRITE_ROLES[Region]).filter(pk=parent_id).first()
        if parent is not None:
            initial = {"parent": parent, "level": min(parent.level + 1, RegionLevel.GRID)}
    form = RegionCreateForm(request.POST or None, user=user, initial=initial)
    return _form_page(
        request,
        form,
        save=lambda data: services.region_create(actor=user, **data),
        done=lambda region: (
            _("已新增区划“%(name)s”。") % {"name": region.name},
            reverse("core:region_detail", args=[region.pk]),
        ),
        title=_("新增下级区划"),
        cancel_url=reverse("core:region_list"),
    )


@staff_required
def region_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    region = access.get_visible_or_404(Region, user, pk=pk)
    _require_change(user, region)
    initial = {
        "name": region.name,
        "is_active": region.is_active,
        "expected_version": services.REGION_VERSION.of(region),
    }
    form = RegionEditForm(request.POST or None, initial=initial)
    return _form_page(
        request,
        form,
        save=lambda data: services.region_update(actor=user, region=region, **_versioned(data)),
        done=lambda _result: (_("已保存。"), reverse("core:region_detail", args=[region.pk])),
        title=_("编辑区划：%(name)s") % {"name": region.name},
        cancel_url=reverse("core:region_detail", args=[region.pk]),
    )


# --- Units ----------------------------------------------------------------------------------------


@staff_required
def unit_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    if kind not in UnitKind.values:
        kind = ""
    page = _paginate(request, selectors.unit_list(user=request.user, search=search, kind=kind))
    can_create = access.manageable_regions(request.user, access.WRITE_ROLES[Unit]).exists()
    return render(
        request,
        "core/unit_list.html",
        {"page": page, "search": search, "kind": kind, "kinds": UnitKind.choices, "can_create": can_create},
    )


@staff_required
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    unit = access.get_visible_or_404(Unit.objects.select_related("region", "parent"), user, pk=pk)
    context = {
        "unit": unit,
        "parent": unit.parent if unit.parent and access.can(user, access.VIEW, unit.parent) else None,
        "children": Unit.objects.visible_to(user).filter(parent=unit).order_by("name"),
        "can_change": access.can(user, access.CHANGE, unit),
        "tab": "detail",
        **_evidence_context(request, unit),
    }
    return render(request, "core/unit_detail.html", context)


@staff_required
def unit_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_manageable(user, access.WRITE_ROLES[Unit])
    form = UnitForm(request.POST or None, user=user)
    return _form_page(
        request,
        form,
        save=lambda data: services.unit_create(actor=user, **data),
        done=lambda unit: (
            _("已新增单位“%(name)s”。") % {"name": unit.name},
            reverse("core:unit_detail", args=[unit.pk]),
        ),
        title=_("新增单位"),
        cancel_url=reverse("core:unit_list"),
    )


@staff_required
def unit_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    unit = access.get_visible_or_404(Unit, user, pk=pk)
    _require_change(user, unit)
    initial = {name: getattr(unit, name) for name in services.UNIT_FIELDS}
    initial["expected_version"] = services.UNIT_VERSION.of(unit)
    form = UnitEditForm(request.POST or None, user=user, initial=initial)
    return _form_page(
        request,
        form,
        save=lambda data: services.unit_update(actor=user, unit=unit, **_versioned(data)),
        done=lambda _result: (_("已保存。"), reverse("core:unit_detail", args=[unit.pk])),
        title=_("编辑单位：%(name)s") % {"name": unit.name},
        cancel_url=reverse("core:unit_detail", args=[unit.pk]),
    )


# --- People ---------------------------------------------------------------------------------------


@staff_required
def person_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    verified_param = request.GET.get("verified", "")
    verified = {"1": True, "0": False}.get(verified_param)
    page = _paginate(request, selectors.person_list(user=user, search=search, verified=verified))
    scope = access.scope_of(user)
    can_manage = scope.is_superuser or bool(scope.paths_for(access.PEOPLE_MANAGERS))
    # The verify button sits on each row so "我的待办 → 去核实" is one click per person.
    rows = [(person, access.can(user, access.VERIFY, person)) for person in page.object_list]
    return render(
        request,
        "core/person_list.html",
        {"page": page, "rows": rows, "search": search, "verified": verified_param, "can_manage": can_manage},
    )


@staff_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    person = access.get_visible_or_404(
        Person.objects.select_related("region", "household", "verified_by__person"), user, pk=pk
    )
    can_change = access.can(user, access.CHANGE, person)
    # Full phone and ID number only for those who may change the record; each showing is logged.
    shown = privacy.personal_data_display(
        actor=user, obj=person, fields=("phone", "id_number"), context=f"page:{request.path}"
    )
    context = {
        "person": person,
        "can_change": can_change,
        "can_verify": access.can(user, access.VERIFY, person),
        "phone": shown["phone"],
        "id_number": shown["id_number"],
        "account": getattr(person, "account", None),
        "tab": "detail",
        **_evidence_context(request, person),
    }
    return render(request, "core/person_detail.html", context)


def _person_data(cleaned: dict[str, Any]) -> dict[str, Any]:
    data = dict(cleaned)
    for name in ("gender", "relation", "id_number", "phone"):
        data[name] = data.get(name) or ""
    return data


@staff_required
def person_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_manageable(user, access.PEOPLE_MANAGERS)
    form = PersonForm(request.POST or None, user=user)
    return _form_page(
        request,
        form,
        save=lambda data: services.person_create(actor=user, data=_person_data(data)),
        done=lambda person: (
            _("已登记人员“%(name)s”。") % {"name": person.name},
            reverse("core:person_detail", args=[person.pk]),
        ),
        title=_("登记人员"),
        cancel_url=reverse("core:person_list"),
    )


@staff_required
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    person = access.get_visible_or_404(Person, user, pk=pk)
    _require_change(user, person)
    initial = {name: getattr(person, name) for name in services.PERSON_FIELDS}
    initial["expected_version"] = services.PERSON_VERSION.of(person)
    form = PersonEditForm(request.POST or None, user=user, initial=initial)

    def save(cleaned: dict[str, Any]) -> Person:
        versioned = _versioned(cleaned)
        return services.person_update(
            actor=user,
            person=person,
            data=_person_data(versioned["data"]),
            expected_version=versioned["expected_version"],
        )

    return _form_page(
        request,
        form,
        save=save,
        done=lambda _result: (_("已保存。"), reverse("core:person_detail", args=[person.pk])),
        title=_("编辑人员：%(name)s") % {"name": person.name},
        cancel_url=reverse("core:person_detail", args=[person.pk]),
    )


@require_POST
@staff_required
def person_verify(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_visible_or_404(Person, request.user, pk=pk)
    try:
        services.person_verify(actor=request.user, person=person)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    messages.success(request, _("已核实“%(name)s”。") % {"name": person.name})
    return redirect(_safe_next(request, reverse("core:person_detail", args=[person.pk])))


@require_POST
@staff_required
def person_unverify(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_visible_or_404(Person, request.user, pk=pk)
    try:
        services.person_unverify(actor=request.user, person=person)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    messages.success(request, _("已撤销对“%(name)s”的核实。") % {"name": person.name})
    return redirect(_safe_next(request, reverse("core:person_detail", args=[person.pk])))


@staff_required
def person_account_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    person = access.get_visible_or_404(Person, user, pk=pk)
    _require_change(user, person)
    detail_url = reverse("core:person_detail", args=[person.pk])
    if getattr(person, "account", None) is not None:
        messages.info(request, _("此人已有账号。"))
        return redirect(detail_url)
    form = AccountCreateForm(request.POST or None, initial={"phone": person.phone})
    return _form_page(
        request,
        form,
        save=lambda data: services.account_create(actor=user, person=person, **data),
        done=lambda _result: (_("已为“%(name)s”开通账号。") % {"name": person.name}, detail_url),
        title=_("为“%(name)s”开通账号") % {"name": person.name},
        cancel_url=detail_url,
        submit=_("开通账号"),
    )


# --- Households -----------------------------------------------------------------------------------


@staff_required
def household_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    search = request.GET.get("q", "").strip()
    page = _paginate(request, selectors.household_list(user=user, search=search))
    can_create = access.manageable_regions(user, access.PEOPLE_MANAGERS).exists()
    return render(request, "core/household_list.html", {"page": page, "search": search, "can_create": can_create})


@staff_required
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = access.get_visible_or_404(Household.objects.select_related("region", "head"), user, pk=pk)
    can_change = access.can(user, access.CHANGE, household)
    members = Person.objects.visible_to(user).filter(household=household).order_by("name", "id")
    context = {
        "household": household,
        "members": members,
        "can_change": can_change,
        "member_form": HouseholdMemberForm(user=user, household=household) if can_change else None,
        "tab": "detail",
        **_evidence_context(request, household),
    }
    return render(request, "core/household_detail.html", context)


@staff_required
def household_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_manageable(user, access.PEOPLE_MANAGERS)
    form = HouseholdForm(request.POST or None, user=user)
    return _form_page(
        request,
        form,
        save=lambda data: services.household_create(actor=user, **data),
        done=lambda household: (
            _("已登记户“%(number)s”。") % {"number": household.number},
            reverse("core:household_detail", args=[household.pk]),
        ),
        title=_("登记户"),
        cancel_url=reverse("core:household_list"),
    )


@staff_required
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = access.get_visible_or_404(Household, user, pk=pk)
    _require_change(user, household)
    initial = {
        "number": household.number,
        "address": household.address,
        "expected_version": services.HOUSEHOLD_VERSION.of(household),
    }
    form = HouseholdEditForm(request.POST or None, initial=initial)
    return _form_page(
        request,
        form,
        save=lambda data: services.household_update(actor=user, household=household, **_versioned(data)),
        done=lambda _result: (_("已保存。"), reverse("core:household_detail", args=[household.pk])),
        title=_("编辑户：%(number)s") % {"number": household.number},
        cancel_url=reverse("core:household_detail", args=[household.pk]),
    )


@require_POST
@staff_required
def household_add_member(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = access.get_visible_or_404(Household, user, pk=pk)
    _require_change(user, household)
    form = HouseholdMemberForm(request.POST, user=user, household=household)
    if form.is_valid():
        try:
            services.household_add_member(
                actor=user,
                household=household,
                person=form.cleaned_data["person"],
                relation=form.cleaned_data["relation"],
            )
        except PermissionDenied as exc:
            raise Http404("not found") from exc
        except ValidationError as exc:
            _service_errors_as_message(request, exc)
        else:
            messages.success(request, _("已加入本户。"))
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("core:household_detail", pk=household.pk)


def _member_from_post(request: HttpRequest) -> Person:
    return access.get_visible_or_404(Person, request.user, pk=_int_or_none(request.POST.get("person")))


@require_POST
@staff_required
def household_remove_member(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_visible_or_404(Household, request.user, pk=pk)
    person = _member_from_post(request)
    try:
        services.household_remove_member(actor=request.user, household=household, person=person)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        _service_errors_as_message(request, exc)
    else:
        messages.success(request, _("已将“%(name)s”移出本户。") % {"name": person.name})
    return redirect("core:household_detail", pk=household.pk)


@require_POST
@staff_required
def household_set_head(request: HttpRequest, pk: int) -> HttpResponse:
    household = access.get_visible_or_404(Household, request.user, pk=pk)
    person = _member_from_post(request)
    try:
        services.household_set_head(actor=request.user, household=household, head=person)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        _service_errors_as_message(request, exc)
    else:
        messages.success(request, _("已将“%(name)s”设为户主。") % {"name": person.name})
    return redirect("core:household_detail", pk=household.pk)


# --- Memberships ----------------------------------------------------------------------------------


@staff_required
def membership_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    role = request.GET.get("role", "")
    if role not in Role.values:
        role = ""
    show_ended = request.GET.get("ended") == "1"
    page = _paginate(request, selectors.membership_list(user=user, role=role, active=not show_ended))
    can_manage = access.manageable_regions(user, access.WRITE_ROLES[Membership]).exists()
    return render(
        request,
        "core/membership_list.html",
        {"page": page, "role": role, "roles": Role.choices, "show_ended": show_ended, "can_manage": can_manage},
    )


@staff_required
def membership_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_manageable(user, access.WRITE_ROLES[Membership])
    form = MembershipForm(request.POST or None, user=user)

    def grant(data: dict[str, Any]) -> Membership:
        fields = dict(data)
        account = fields.pop("phone")  # the form resolves the phone number to an account
        return services.membership_grant(actor=user, user=account, **fields)

    return _form_page(
        request,
        form,
        save=grant,
        done=lambda membership: (_("已授予角色：%(m)s") % {"m": membership}, reverse("core:membership_list")),
        title=_("授予角色"),
        cancel_url=reverse("core:membership_list"),
    )


@require_POST
@staff_required
def membership_end(request: HttpRequest, pk: int) -> HttpResponse:
    membership = access.get_visible_or_404(Membership.objects.select_related("user"), request.user, pk=pk)
    try:
        services.membership_end(actor=request.user, membership=membership)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    messages.success(request, _("已终止该角色任职。"))
    return redirect(_safe_next(request, reverse("core:membership_list")))


# --- Notifications --------------------------------------------------------------------------------


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = _paginate(request, selectors.notification_list(user=request.user))
    return render(request, "core/notification_list.html", {"page": page})


@require_POST
@login_required
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = access.get_visible_or_404(Notification, request.user, pk=pk)
    try:
        services.notification_mark_read(actor=request.user, notification=notification)
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    return redirect(_safe_next(request, reverse("core:notification_list")))


# --- History --------------------------------------------------------------------------------------

HISTORY_ACTIONS = {"+": gettext_lazy("创建"), "~": gettext_lazy("修改"), "-": gettext_lazy("删除")}


@dataclass
class FieldChange:
    label: str
    old: str
    new: str


def _display_value(field: models.Field, value: Any, show_full: bool) -> str:
    if value is None or value == "":
        return "—"
    if field.name in privacy.SENSITIVE_FIELDS and not show_full:
        return privacy.SENSITIVE_FIELDS[field.name](value)
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if field.is_relation:
        # A reference: the number is enough to tell that it changed without another query.
        return f"#{value}"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


def _history(request: HttpRequest, model: type[models.Model], pk: int, detail_url: str) -> HttpResponse:
    user = request.user
    obj = access.get_visible_or_404(model, user, pk=pk)
    show_full = privacy.may_see_full(user, obj)
    records = obj.history.select_related("history_user__person").order_by("-history_date", "-history_id")  # type: ignore[attr-defined]
    page = _paginate(request, records)
    # One extra (older) record so the last entry of the page can be compared too.
    start = page.start_index() - 1 if page.paginator.count else 0
    window = list(records[start : start + len(page.object_list) + 1])
    entries = []
    revealed: set[str] = set()
    for index, record in enumerate(window[: len(page.object_list)]):
        older = window[index + 1] if index + 1 < len(window) else None
        changes: list[FieldChange] = []
        if older is not None:
            for change in record.diff_against(older).changes:
                field = model._meta.get_field(change.field)
                assert isinstance(field, models.Field)
                if show_full and field.name in privacy.SENSITIVE_FIELDS:
                    revealed.add(field.name)
                changes.append(
                    FieldChange(
                        label=str(field.verbose_name),
                        old=_display_value(field, change.old, show_full),
                        new=_display_value(field, change.new, show_full),
                    )
                )
        entries.append(
            {
                "record": record,
                "action": HISTORY_ACTIONS.get(record.history_type, record.history_type),
                "changes": changes,
                "is_first": older is None,
            }
        )
    if revealed:
        privacy.personal_data_access_log(actor=user, obj=obj, fields=revealed, context=f"page:{request.path}")
    context = {
        "object": obj,
        "page": page,
        "entries": entries,
        "detail_url": reverse(detail_url, args=[obj.pk]),
        "title": str(obj),
        "model_name": model._meta.verbose_name,
        "tab": "history",
    }
    return render(request, "core/history.html", context)


@staff_required
def region_history(request: HttpRequest, pk: int) -> HttpResponse:
    return _history(request, Region, pk, "core:region_detail")


@staff_required
def unit_history(request: HttpRequest, pk: int) -> HttpResponse:
    return _history(request, Unit, pk, "core:unit_detail")


@staff_required
def person_history(request: HttpRequest, pk: int) -> HttpResponse:
    return _history(request, Person, pk, "core:person_detail")


@staff_required
def household_history(request: HttpRequest, pk: int) -> HttpResponse:
    return _history(request, Household, pk, "core:household_detail")


# --- Evidence (attachments) -----------------------------------------------------------------------

# Records that hold evidence are addressed generically; these never carry attachments.
NOT_ATTACHABLE: tuple[type[models.Model], ...] = (Attachment, Notification, ApiToken)
# Types a browser might execute or render as a page are always sent as plain bytes.
SAFE_THUMBNAIL_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}


@require_POST
@login_required
def attachment_upload(request: HttpRequest) -> HttpResponse:
    from cocreate.core import evidence

    user = request.user
    try:
        content_type = ContentType.objects.get_for_id(int(request.POST.get("content_type", "")))
    except (ValueError, ContentType.DoesNotExist) as exc:
        raise Http404("not found") from exc
    model = content_type.model_class()
    if model is None or model in NOT_ATTACHABLE or model not in access.registered_models():
        raise Http404("not found")
    target = access.get_visible_or_404(model, user, pk=request.POST.get("object_id"))
    back = _safe_next(request, reverse("core:home"))
    form = AttachmentUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    try:
        attachment = evidence.attachment_add(
            actor=user,
            target=target,
            upload=form.cleaned_data["file"],
            description=form.cleaned_data["description"],
        )
    except PermissionDenied as exc:
        raise Http404("not found") from exc
    except ValidationError as exc:
        _service_errors_as_message(request, exc)
    else:
        messages.success(request, _("已上传“%(name)s”。") % {"name": attachment.original_name})
    return redirect(back)


def _no_sniff(response: FileResponse) -> FileResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    from cocreate.core import evidence

    attachment = access.get_visible_or_404(Attachment, request.user, pk=pk)
    try:
        handle = evidence.attachment_open(actor=request.user, attachment=attachment)
    except (PermissionDenied, FileNotFoundError) as exc:
        raise Http404("not found") from exc
    # Always a download, never rendered inline: an uploaded file must not run in our origin.
    content_type = attachment.mime_type or "application/octet-stream"
    if content_type.startswith("text/") or "html" in content_type or "xml" in content_type:
        content_type = "application/octet-stream"
    response = FileResponse(handle, as_attachment=True, filename=attachment.original_name, content_type=content_type)
    return _no_sniff(response)


@login_required
def attachment_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    from cocreate.core import evidence

    attachment = access.get_visible_or_404(Attachment, request.user, pk=pk)
    if not attachment.thumbnail:
        raise Http404("no thumbnail")
    content_type = mimetypes.guess_type(attachment.thumbnail.name)[0] or ""
    if content_type not in SAFE_THUMBNAIL_TYPES:
        raise Http404("no thumbnail")
    try:
        handle = evidence.attachment_open(actor=request.user, attachment=attachment, thumbnail=True)
    except (PermissionDenied, FileNotFoundError) as exc:
        raise Http404("no thumbnail") from exc
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return _no_sniff(response)


# --- Shared with the other apps' pages ------------------------------------------------------------
# Public names for the helpers above, so every app's pages use the same flow instead of a copy.
require_manageable = _require_manageable
require_change = _require_change
paginate = _paginate
int_or_none = _int_or_none
safe_next = _safe_next
render_form = _render_form
form_page = _form_page
versioned = _versioned
service_errors_as_message = _service_errors_as_message
evidence_context = _evidence_context
history_page = _history
