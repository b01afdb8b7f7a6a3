"""Pages of grievance cases (namespace "cases"), mounted under /cases/.

URL names start with ``case_`` so the route × role matrix fills their ids with cases; the two
tracking pages are public (``@access.public_view``) and take no ids.
"""

from django.urls import path

from cocreate.cases import views, views_analytics

app_name = "cases"

urlpatterns = [
    path("", views.case_queue_list, name="case_queue_list"),
    path("new/", views.case_intake_form, name="case_intake_form"),
    path("track/", views.case_track, name="case_track"),
    path("track/rate/", views.case_track_rate, name="case_track_rate"),
    # Figures, exports and the supervisor's view (views_analytics.py).
    path("analytics/", views_analytics.case_analytics, name="case_analytics"),
    path("analytics/export.xlsx", views_analytics.case_analytics_export, name="case_analytics_export"),
    path("export.xlsx", views_analytics.case_list_export, name="case_list_export"),
    path("supervision/", views_analytics.case_supervision, name="case_supervision"),
    path("<int:pk>/", views.case_detail, name="case_detail"),
    path("<int:pk>/registered/", views.case_intake_done, name="case_intake_done"),
    path("<int:pk>/parties/", views.case_parties, name="case_parties"),
    path("<int:pk>/attachments/", views.case_attach, name="case_attach"),
    # One small view per transition, each calling exactly one service (views.ACTIONS).
    *[
        path(f"<int:pk>/{slug}/", views.action_view(action), name=f"case_{slug}")
        for slug, action in views.ACTIONS.items()
    ],
]
