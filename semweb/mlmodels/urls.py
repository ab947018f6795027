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
]
