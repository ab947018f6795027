"""URLs of the datasets app."""

urlpatterns: list = []
