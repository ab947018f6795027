from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "semweb.review"
    label = "review"
