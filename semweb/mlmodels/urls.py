"""URLs of the model registry (mounted at /models/)."""

from django.urls import path

from semweb.mlmodels import views

app_name = "mlmodels"

urlpatterns = [
    path("", views.model_list, name="list"),
    path("<int:pk>/", views.model_detail, name="detail"),
    path("<int:pk>/progress.json", views.model_progress, name="progress"),
    path("<int:pk>/promote", views.model_promote, name="promote"),
    path("<int:pk>/retire", views.model_retire, name="retire"),
    path("<int:pk>/cancel", views.model_cancel, name="cancel"),
    path("datasets/<int:pk>/train", views.dataset_train, name="train"),
    path("datasets/<int:pk>/learn-style", views.dataset_learn_style, name="learn_style"),
    path("styles/<int:pk>/", views.style_detail, name="style"),
    path("styles/<int:pk>/progress.json", views.style_progress, name="style_progress"),
    path("styles/<int:pk>/samples/<int:step>.png", views.style_sample, name="style_sample"),
    path("styles/<int:pk>/generate", views.style_generate, name="style_generate"),
    path("styles/<int:pk>/cancel", views.style_cancel, name="style_cancel"),
    path("styles/<int:pk>/continue", views.style_continue, name="style_continue"),
]
