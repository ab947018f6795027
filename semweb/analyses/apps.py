from django.apps import AppConfig


class AnalysesConfig(AppConfig):
    name = "semweb.analyses"
    label = "analyses"
