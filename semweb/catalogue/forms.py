"""Forms of the catalogue pages (validation only; writes go through services)."""

from __future__ import annotations

from django import forms

from semweb.catalogue.models import Project, Sample
from semweb.core.params import (
    DESCRIPTION_MAX_CHARS,
    MAX_TAGS,
    NOTES_MAX_CHARS,
    TAG_MAX_CHARS,
    ParameterError,
    parse_tags,
)


class ProjectForm(forms.ModelForm):
    description = forms.CharField(
        required=False,
        max_length=DESCRIPTION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class ProjectCreateForm(ProjectForm):
    lab = forms.ModelChoiceField(queryset=None, empty_label=None)

    class Meta(ProjectForm.Meta):
        fields = ["lab", "name", "description"]

    def __init__(self, *args, labs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lab"].queryset = labs


class SampleForm(forms.ModelForm):
    synthesis_notes = forms.CharField(
        required=False, max_length=NOTES_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 4})
    )
    tags = forms.CharField(
        required=False,
        max_length=MAX_TAGS * (TAG_MAX_CHARS + 2),
        help_text=f"Comma-separated (at most {MAX_TAGS}), e.g. calcined, batch-7, reference",
    )

    class Meta:
        model = Sample
        fields = ["name", "material", "synthesis_notes", "tags"]
        widgets = {"synthesis_notes": forms.Textarea(attrs={"rows": 4})}

    def clean_tags(self) -> list[str]:
        try:
            return parse_tags(self.cleaned_data.get("tags") or "")
        except ParameterError as exc:
            raise forms.ValidationError(exc.messages) from None
