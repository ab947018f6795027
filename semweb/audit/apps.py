from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "semweb.audit"
    label = "audit"
