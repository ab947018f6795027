from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "semweb.catalogue"
    label = "catalogue"
