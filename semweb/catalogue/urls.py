"""URLs of the catalogue app: projects → samples → micrographs, upload and file downloads."""

from django.urls import path

from semweb.catalogue import views

app_name = "catalogue"

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:pk>/", views.project_detail, name="project_detail"),
    path("projects/<int:pk>/edit/", views.project_edit, name="project_edit"),
    path("projects/<int:project_pk>/samples/new/", views.sample_create, name="sample_create"),
    path("samples/<int:pk>/", views.sample_detail, name="sample_detail"),
    path("samples/<int:pk>/edit/", views.sample_edit, name="sample_edit"),
    path("samples/<int:pk>/upload/", views.sample_upload, name="sample_upload"),
    path("micrographs/<int:pk>/", views.micrograph_detail, name="micrograph_detail"),
    path("micrographs/<int:pk>/preview.png", views.micrograph_preview, name="micrograph_preview"),
    path("micrographs/<int:pk>/original/", views.micrograph_original, name="micrograph_original"),
    path("micrographs/<int:pk>/sidecar/", views.micrograph_sidecar, name="micrograph_sidecar"),
]
