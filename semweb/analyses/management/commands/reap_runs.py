"""`manage.py reap_runs`: requeue or fail runs whose worker died, by hand (every worker also
reaps in a thread, at start and every half stale-period: there is no beat process)."""

from django.core.management.base import BaseCommand

from semweb.analyses.services import runs_reap


class Command(BaseCommand):
    help = "Requeue (or fail, after the last attempt) runs whose worker stopped heartbeating."

    def handle(self, *args, **options) -> None:
        counts = runs_reap()
        self.stdout.write(f"requeued {counts['requeued']}, failed {counts['failed']}")
