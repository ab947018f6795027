from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "semweb.api"
    label = "api"
