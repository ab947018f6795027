"""Forms of the catalogue pages (validation only; writes go through services)."""

from __future__ import annotations

from django import forms

from semweb.catalogue.models import Project, Sample


class ProjectForm(forms.ModelForm):
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
    tags = forms.CharField(
        required=False, help_text="Comma-separated, e.g. calcined, batch-7, reference"
    )

    class Meta:
        model = Sample
        fields = ["name", "material", "synthesis_notes", "tags"]
        widgets = {"synthesis_notes": forms.Textarea(attrs={"rows": 4})}

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [t.strip()[:64] for t in raw.split(",") if t.strip()]
