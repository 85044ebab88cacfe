from django.apps import AppConfig


class NodeConfig(AppConfig):
    name = "apps.node"
    label = "node"
    verbose_name = "Node: processes, health and demo data"
