from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "apps.discovery"
    label = "discovery"
    verbose_name = "Discovery: TCP gossip membership of Growr nodes"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the settings checks
