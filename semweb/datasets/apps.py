from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "semweb.datasets"
    label = "datasets"
