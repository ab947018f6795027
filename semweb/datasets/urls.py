"""URLs of the datasets app: curation, dataset exports/imports, per-run/sample/project files."""

from django.urls import path, re_path

from semweb.datasets import views

app_name = "datasets"

SCOPE = r"(?P<scope>run|sample|project)/(?P<pk>\d+)"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("import/", views.dataset_import, name="import"),
    path("<int:pk>/", views.dataset_detail, name="detail"),
    path("<int:pk>/runs/", views.dataset_runs, name="runs"),
    path("<int:pk>/export/", views.dataset_export, name="export"),
    path("exports/<int:pk>/download", views.export_download, name="export_download"),
    re_path(rf"^{SCOPE}/particles\.(?P<fmt>csv|xlsx)$", views.particles_file, name="particles"),
    re_path(rf"^{SCOPE}/summary\.json$", views.summary_json, name="summary"),
    re_path(rf"^{SCOPE}/report/$", views.report, name="report"),
]
