"""URLs of the analyses app (mounted at /runs/)."""

from django.urls import path

from semweb.analyses import views

app_name = "analyses"

urlpatterns = [
    path("<int:pk>/", views.run_detail, name="run"),
    path("<int:pk>/progress.json", views.run_progress, name="progress"),
    path("<int:pk>/particles.json", views.run_particles, name="particles"),
    path("<int:pk>/stats.json", views.run_stats, name="stats"),
    path("<int:pk>/accept", views.run_accept, name="accept"),
    path("<int:pk>/calibration", views.run_calibration, name="calibration"),
    path("<int:pk>/cancel", views.run_cancel, name="cancel"),
    path("micrographs/<int:pk>/analyse", views.micrograph_analyse, name="micrograph_analyse"),
    path("micrographs/<int:pk>/image", views.micrograph_image, name="micrograph_image"),
    path("samples/<int:pk>/analyse", views.sample_analyse, name="sample_analyse"),
    path("samples/<int:pk>/stats", views.sample_stats, name="sample_stats"),
    path("projects/<int:pk>/compare", views.project_compare, name="project_compare"),
    path("assets/plotly.min.js", views.plotly_js, name="plotly_js"),
]
