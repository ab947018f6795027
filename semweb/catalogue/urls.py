"""URLs of the catalogue app."""

urlpatterns: list = []
