from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    label = "projects"
    verbose_name = "Projects: lending projects, terms and eligibility criteria"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from . import receivers
        from .models import Project

        post_save.connect(receivers.project_changed, sender=Project, dispatch_uid="project-saved")
        post_delete.connect(
            receivers.project_changed, sender=Project, dispatch_uid="project-deleted"
        )
