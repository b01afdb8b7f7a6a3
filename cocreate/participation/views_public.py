"""The public page of each village or community (no login): issue 4 §8.

Open needs and their status, the problem list, meetings and their resolutions, votes with their
results, notices, the 四议两公开 records and the task list. Every view here is marked
``@access.public_view`` and reads only through ``selectors_public`` (``access.public``), so every
visitor — anonymous or signed in, from anywhere — sees the same page. The region code in the URL
is the community's public id. Names of people are masked (张*); phone and ID numbers, photos and the
rows naming people (supporters, invitees, comments, objections, ballots) are never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET

from cocreate.core import access
from cocreate.core.models import Region
from cocreate.core.views import paginate
from cocreate.participation import notices as notice_rules
from cocreate.participation import selectors_public
from cocreate.participation.models import Notice, Vote
from cocreate.participation.needs import community_of

# How many of each kind the overview shows before "查看全部".
OVERVIEW_ROWS = 5
# Lists of the public page: 10 a page suits a phone.
PUBLIC_PAGE_SIZE = 10


def _page(request: HttpRequest, qs: QuerySet[Any]) -> Any:
    return Paginator(qs, PUBLIC_PAGE_SIZE).get_page(request.GET.get("page"))


def _task_rows(items: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        status, label = selectors_public.task_status(item)
        rows.append({"item": item, "status": status, "status_label": label})
    return rows


def _vote_rows(votes: list[Vote]) -> list[dict[str, Any]]:
    return [{"vote": vote, "result": selectors_public.vote_result(vote=vote)} for vote in votes]


def _notice_rows(notices: list[Notice]) -> list[dict[str, Any]]:
    return [{"notice": n, "days": notice_rules.period_days(n)} for n in notices]


# --- Finding a community -----------------------------------------------------------------------------------


@access.public_view
@require_GET
def public_community_list(request: HttpRequest) -> HttpResponse:
    """Find a village or community by name (or code); only those with something public are listed."""
    search = request.GET.get("q", "").strip()[:50]
    page = paginate(request, selectors_public.community_list(search=search))
    return render(request, "participation/public_community_list.html", {"page": page, "search": search})


@require_GET
def public_mine(request: HttpRequest) -> HttpResponse:
    """A resident's way to their own community's public page; everyone else goes to the search."""
    person = getattr(request.user, "person", None) if request.user.is_authenticated else None
    home = community_of(person.region) if person is not None else None
    if home is not None and access.public(Region.objects.filter(pk=home.pk)).exists():
        return redirect("participation:public_community", code=home.code)
    return redirect("participation:public_community_list")


# --- The overview --------------------------------------------------------------------------------------------


@access.public_view
@require_GET
def public_community(request: HttpRequest, code: str) -> HttpResponse:
    """One community at a glance: the latest few of each kind, each with a link to its full list."""
    region = selectors_public.community(code=code)

    def latest(qs: QuerySet[Any]) -> tuple[list[Any], int]:
        return list(qs[:OVERVIEW_ROWS]), qs.count()

    needs, needs_total = latest(selectors_public.needs(community=region))
    problems, problems_total = latest(selectors_public.problems(community=region))
    meetings, meetings_total = latest(selectors_public.meetings(community=region))
    votes, votes_total = latest(selectors_public.votes(community=region))
    notices, notices_total = latest(selectors_public.notices(community=region))
    decisions, decisions_total = latest(selectors_public.decisions(community=region))
    tasks, tasks_total = latest(selectors_public.task_items(community=region))
    context = {
        "community": region,
        "needs": needs,
        "needs_total": needs_total,
        "problems": problems,
        "problems_total": problems_total,
        "meetings": meetings,
        "meetings_total": meetings_total,
        "vote_rows": _vote_rows(votes),
        "votes_total": votes_total,
        "notice_rows": _notice_rows(notices),
        "notices_total": notices_total,
        "decisions": decisions,
        "decisions_total": decisions_total,
        "task_rows": _task_rows(tasks),
        "tasks_total": tasks_total,
    }
    return render(request, "participation/public_community.html", context)


# --- Full lists, one per kind --------------------------------------------------------------------------------


def _list_view(
    kind: str, select: Callable[..., QuerySet[Any]], rows: Callable[[list[Any]], list[Any]] | None = None
) -> Callable[..., HttpResponse]:
    """A paginated public list of one kind of record of a community."""

    @access.public_view
    @require_GET
    def view(request: HttpRequest, code: str) -> HttpResponse:
        region = selectors_public.community(code=code)
        page = _page(request, select(community=region))
        context = {
            "community": region,
            "kind": kind,
            "page": page,
            "rows": rows(list(page.object_list)) if rows else list(page.object_list),
        }
        return render(request, f"participation/public_{kind}_list.html", context)

    view.__name__ = f"public_{kind}_list"
    view.__qualname__ = view.__name__
    return view


public_need_list = _list_view("need", selectors_public.needs)
public_problem_list = _list_view("problem", selectors_public.problems)
public_meeting_list = _list_view("meeting", selectors_public.meetings)
public_vote_list = _list_view("vote", selectors_public.votes, _vote_rows)
public_notice_list = _list_view("notice", selectors_public.notices, _notice_rows)
public_decision_list = _list_view("decision", selectors_public.decisions)
public_task_list = _list_view("task", selectors_public.task_items, _task_rows)


# --- Detail pages --------------------------------------------------------------------------------------------


@access.public_view
@require_GET
def public_meeting_detail(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    region = selectors_public.community(code=code)
    meeting = selectors_public.meeting(community=region, pk=pk)
    return render(request, "participation/public_meeting_detail.html", {"community": region, "meeting": meeting})


@access.public_view
@require_GET
def public_vote_detail(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """A vote's question and rule; once it has closed, its result threshold by threshold."""
    region = selectors_public.community(code=code)
    vote = selectors_public.vote(community=region, pk=pk)
    context = {"community": region, "vote": vote, "result": selectors_public.vote_result(vote=vote)}
    return render(request, "participation/public_vote_detail.html", context)


@access.public_view
@require_GET
def public_notice_detail(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """A notice's text and period, how many objections it drew and whether it passed."""
    region = selectors_public.community(code=code)
    notice = selectors_public.notice(community=region, pk=pk)
    context = {
        "community": region,
        "notice": notice,
        "days": notice_rules.period_days(notice),
        "is_running": notice_rules.is_running(notice),
    }
    return render(request, "participation/public_notice_detail.html", context)


# Included by cocreate/participation/urls.py under "public/" (namespace "participation"). URL names
# start with "public_" then the model, so the route × role matrix fills their ids.
urlpatterns = [
    path("", public_community_list, name="public_community_list"),
    path("mine/", public_mine, name="public_mine"),
    path("<str:code>/", public_community, name="public_community"),
    path("<str:code>/needs/", public_need_list, name="public_need_list"),
    path("<str:code>/problems/", public_problem_list, name="public_problemitem_list"),
    path("<str:code>/meetings/", public_meeting_list, name="public_meeting_list"),
    path("<str:code>/meetings/<int:pk>/", public_meeting_detail, name="public_meeting_detail"),
    path("<str:code>/votes/", public_vote_list, name="public_vote_list"),
    path("<str:code>/votes/<int:pk>/", public_vote_detail, name="public_vote_detail"),
    path("<str:code>/notices/", public_notice_list, name="public_notice_list"),
    path("<str:code>/notices/<int:pk>/", public_notice_detail, name="public_notice_detail"),
    path("<str:code>/decisions/", public_decision_list, name="public_decision_list"),
    path("<str:code>/tasks/", public_task_list, name="public_tasklistitem_list"),
]
