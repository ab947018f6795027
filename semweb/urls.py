"""Top-level URL map; each app owns its own `urls.py`."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from semweb.labs.views import RateLimitedLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("semweb.api.urls")),
    path("labs/", include("semweb.labs.urls")),
    path("datasets/", include("semweb.datasets.urls")),
    path("models/", include("semweb.mlmodels.urls")),
    path("runs/", include("semweb.analyses.urls")),
    path("review/", include("semweb.review.urls")),
    path("", include("semweb.catalogue.urls")),
    path("", include("semweb.core.urls")),
]
