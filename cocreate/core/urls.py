"""Pages of the core app."""

from django.urls import path

from cocreate.core import views, views_audit, views_calendar

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.CocreateLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("text-size/", views.text_size, name="text_size"),
    # Regions
    path("regions/", views.region_list, name="region_list"),
    path("regions/new/", views.region_create, name="region_create"),
    path("regions/<int:pk>/", views.region_detail, name="region_detail"),
    path("regions/<int:pk>/edit/", views.region_edit, name="region_edit"),
    path("regions/<int:pk>/history/", views.region_history, name="region_history"),
    # Units
    path("units/", views.unit_list, name="unit_list"),
    path("units/new/", views.unit_create, name="unit_create"),
    path("units/<int:pk>/", views.unit_detail, name="unit_detail"),
    path("units/<int:pk>/edit/", views.unit_edit, name="unit_edit"),
    path("units/<int:pk>/history/", views.unit_history, name="unit_history"),
    # People
    path("people/", views.person_list, name="person_list"),
    path("people/new/", views.person_create, name="person_create"),
    path("people/<int:pk>/", views.person_detail, name="person_detail"),
    path("people/<int:pk>/edit/", views.person_edit, name="person_edit"),
    path("people/<int:pk>/verify/", views.person_verify, name="person_verify"),
    path("people/<int:pk>/unverify/", views.person_unverify, name="person_unverify"),
    path("people/<int:pk>/account/", views.person_account_create, name="person_account_create"),
    path("people/<int:pk>/history/", views.person_history, name="person_history"),
    # Households
    path("households/", views.household_list, name="household_list"),
    path("households/new/", views.household_create, name="household_create"),
    path("households/<int:pk>/", views.household_detail, name="household_detail"),
    path("households/<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("households/<int:pk>/members/add/", views.household_add_member, name="household_add_member"),
    path("households/<int:pk>/members/remove/", views.household_remove_member, name="household_remove_member"),
    path("households/<int:pk>/head/", views.household_set_head, name="household_set_head"),
    path("households/<int:pk>/history/", views.household_history, name="household_history"),
    # Memberships
    path("memberships/", views.membership_list, name="membership_list"),
    path("memberships/new/", views.membership_create, name="membership_create"),
    path("memberships/<int:pk>/end/", views.membership_end, name="membership_end"),
    # Notifications
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    # Working-day calendar
    path("calendar/", views_calendar.calendar_list, name="calendar_list"),
    path("calendar/import/", views_calendar.calendar_import, name="calendar_import"),
    path("calendar/<int:pk>/delete/", views_calendar.calendar_delete, name="calendar_delete"),
    # Audit trail (auditors)
    path("audit/", views_audit.audit_list, name="audit_list"),
    path("audit/export.xlsx", views_audit.audit_export, name="audit_export"),
    # Evidence
    path("attachments/upload/", views.attachment_upload, name="attachment_upload"),
    path("attachments/<int:pk>/download/", views.attachment_download, name="attachment_download"),
    path("attachments/<int:pk>/thumbnail/", views.attachment_thumbnail, name="attachment_thumbnail"),
]
