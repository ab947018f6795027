from django.apps import AppConfig


class MlmodelsConfig(AppConfig):
    name = "semweb.mlmodels"
    label = "mlmodels"
    verbose_name = "Lab models"
