"""URLs of the review app."""

urlpatterns: list = []
