"""Pages of co-decision (namespace "participation").

URL names start with the model they address (vote_…, need_…, notice_…, decision_…) so the
route × role matrix fills their ids with out-of-scope rows of that model; the public pages'
names start with "public_" and then the model.
"""

from django.urls import include, path

from cocreate.participation import (
    views_decisions,
    views_meetings,
    views_needs,
    views_notices,
    views_public,
    views_votes,
)

app_name = "participation"

urlpatterns = [
    path("votes/", include(views_votes.urlpatterns)),
    path("needs/", include(views_needs.urlpatterns)),
    path("notices/", include(views_notices.urlpatterns)),
    path("decisions/", include(views_decisions.urlpatterns)),
    path("meetings/", include(views_meetings.urlpatterns)),
    path("public/", include(views_public.urlpatterns)),
]
