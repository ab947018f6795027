from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "semweb.labs"
    label = "labs"
