"""URLs of the analyses app."""

urlpatterns: list = []
