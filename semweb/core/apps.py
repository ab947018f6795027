from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "semweb.core"
    label = "core"
