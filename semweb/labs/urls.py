"""URLs of the labs app: members, roles and sharing."""

from django.urls import path

from semweb.labs import views

app_name = "labs"

urlpatterns = [
    path("", views.lab_list, name="list"),
    path("projects/<int:pk>/sharing/", views.project_sharing, name="project_sharing"),
    path(
        "projects/<int:pk>/sharing/<int:share_id>/revoke/",
        views.project_share_revoke,
        name="project_share_revoke",
    ),
    path("datasets/<int:pk>/sharing/", views.dataset_sharing, name="dataset_sharing"),
    path(
        "datasets/<int:pk>/sharing/<int:share_id>/revoke/",
        views.dataset_share_revoke,
        name="dataset_share_revoke",
    ),
    path("<slug:slug>/", views.lab_detail, name="detail"),
    path("<slug:slug>/members/", views.membership_add, name="membership_add"),
    path("<slug:slug>/members/<int:pk>/role/", views.membership_role, name="membership_role"),
    path("<slug:slug>/members/<int:pk>/remove/", views.membership_remove, name="membership_remove"),
]
