"""Pages of the plans app (namespace "plans").

URL names start with the model they address (plan_…, task_…, progressreport_…) so the route ×
role matrix fills their ids with out-of-scope rows of that model.
"""

from django.urls import include, path

from cocreate.plans import views, views_assessment, views_bulletins, views_supervision

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("new/", views.plan_create, name="plan_create"),
    path("import/", views.plan_import, name="plan_import"),
    path("mine/", views.my_tasks, name="my_tasks"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("calendar/", views.deadline_calendar, name="calendar"),
    path("<int:pk>/", views.plan_detail, name="plan_detail"),
    path("<int:pk>/edit/", views.plan_edit, name="plan_edit"),
    path("<int:pk>/history/", views.plan_history, name="plan_history"),
    path("<int:pk>/phases/new/", views.plan_phase_add, name="plan_phase_add"),
    path("<int:pk>/tasks/new/", views.plan_task_create, name="plan_task_create"),
    path("<int:pk>/import/", views.plan_tasks_import, name="plan_tasks_import"),
    path("<int:pk>/export/", views.plan_export, name="plan_export"),
    path("tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<int:pk>/children/", views.task_children, name="task_children"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task_edit"),
    path("tasks/<int:pk>/history/", views.task_history, name="task_history"),
    path("tasks/<int:pk>/report/", views.task_report, name="task_report"),
    path("reports/<int:pk>/return/", views.progressreport_return, name="progressreport_return"),
    path("supervision/", include(views_supervision.urlpatterns)),
    path("bulletins/", include(views_bulletins.urlpatterns)),
    path("assessments/", include(views_assessment.urlpatterns)),
]
