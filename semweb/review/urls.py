"""URLs of the review app (mounted at /review/)."""

from django.urls import path

from semweb.review import views

app_name = "review"

urlpatterns = [
    path("queue", views.queue, name="queue"),
    path("runs/<int:pk>/submit", views.submit, name="submit"),
    path("runs/<int:pk>/approve", views.approve, name="approve"),
    path("runs/<int:pk>/request-changes", views.request_changes, name="request_changes"),
    path("runs/<int:pk>/comment", views.comment, name="comment"),
]
