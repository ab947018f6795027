"""URLs of the api app: `/api/v1/…` (REST), `/api/schema/` (OpenAPI), docs and token pages."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from semweb.api import pages, views

v1 = [
    path("labs/", views.LabList.as_view(), name="api_labs"),
    path("labs/<int:pk>/", views.LabDetail.as_view(), name="api_lab"),
    path("projects/", views.ProjectList.as_view(), name="api_projects"),
    path("projects/<int:pk>/", views.ProjectDetail.as_view(), name="api_project"),
    path("samples/", views.SampleList.as_view(), name="api_samples"),
    path("samples/<int:pk>/", views.SampleDetail.as_view(), name="api_sample"),
    path("micrographs/", views.MicrographList.as_view(), name="api_micrographs"),
    path("micrographs/<int:pk>/", views.MicrographDetail.as_view(), name="api_micrograph"),
    path(
        "micrographs/<int:pk>/analyze",
        views.MicrographAnalyze.as_view(),
        name="api_micrograph_analyze",
    ),
    path("runs/", views.RunList.as_view(), name="api_runs"),
    path("runs/<int:pk>", views.RunDetail.as_view(), name="api_run"),
    path("runs/<int:pk>/particles", views.RunParticles.as_view(), name="api_run_particles"),
    path(
        "runs/<int:pk>/particles/split",
        views.ParticleSplit.as_view(),
        name="api_run_particles_split",
    ),
    path(
        "runs/<int:pk>/particles/merge",
        views.ParticleMerge.as_view(),
        name="api_run_particles_merge",
    ),
    path(
        "runs/<int:pk>/particles/wand", views.ParticleWand.as_view(), name="api_run_particles_wand"
    ),
    path(
        "runs/<int:pk>/particles/<int:index>",
        views.ParticleDetail.as_view(),
        name="api_run_particle",
    ),
    path("runs/<int:pk>/undo", views.RunUndo.as_view(), name="api_run_undo"),
    path("runs/<int:pk>/redo", views.RunRedo.as_view(), name="api_run_redo"),
    path("runs/<int:pk>/review", views.RunReview.as_view(), name="api_run_review"),
    path("datasets/", views.DatasetList.as_view(), name="api_datasets"),
    path("datasets/import", views.DatasetImport.as_view(), name="api_dataset_import"),
    path("datasets/<int:pk>/", views.DatasetDetail.as_view(), name="api_dataset"),
    path("datasets/<int:pk>/runs", views.DatasetRuns.as_view(), name="api_dataset_runs"),
    path("datasets/<int:pk>/exports", views.DatasetExports.as_view(), name="api_dataset_exports"),
    path("exports/<int:pk>", views.ExportDetail.as_view(), name="api_export"),
    path("datasets/<int:pk>/train", views.DatasetTrain.as_view(), name="api_dataset_train"),
    path("models/", views.ModelList.as_view(), name="api_models"),
    path("models/<int:pk>", views.ModelDetail.as_view(), name="api_model"),
    path("models/<int:pk>/promote", views.ModelPromote.as_view(), name="api_model_promote"),
    path("models/<int:pk>/retire", views.ModelRetire.as_view(), name="api_model_retire"),
    path("models/<int:pk>/cancel", views.ModelCancel.as_view(), name="api_model_cancel"),
    path(
        "datasets/<int:pk>/learn-style",
        views.DatasetLearnStyle.as_view(),
        name="api_dataset_learn_style",
    ),
    path("style-models/", views.StyleModelList.as_view(), name="api_style_models"),
    path("style-models/<int:pk>", views.StyleModelDetail.as_view(), name="api_style_model"),
    path(
        "style-models/<int:pk>/generate", views.StyleGenerate.as_view(), name="api_style_generate"
    ),
    path("style-models/<int:pk>/cancel", views.StyleCancel.as_view(), name="api_style_cancel"),
    path(
        "style-models/<int:pk>/continue", views.StyleContinue.as_view(), name="api_style_continue"
    ),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", pages.docs_page, name="api_docs"),
    path("token/", pages.token_page, name="api_token"),
    path("v1/", include(v1)),
]
