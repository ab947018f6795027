"""Labs (research groups), their members and roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    SUPERVISOR = "supervisor", "Supervisor"
    ADMIN = "admin", "Lab admin"


class ShareLevel(models.TextChoices):
    """What another lab may do with a shared project or dataset."""

    VIEW = "view", "View"
    ANNOTATE = "annotate", "Annotate"


class Lab(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="labs"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lab"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.lab} ({self.role})"


class ShareGrant(models.Model):
    """What a grant to another lab holds; `ProjectShare` and `DatasetShare` add the object and
    the lab (each with its own related names and uniqueness constraint)."""

    level = models.CharField(max_length=16, choices=ShareLevel.choices, default=ShareLevel.VIEW)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
