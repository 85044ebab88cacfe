from django.urls import path, re_path

from . import views

app_name = "discovery"
BOOK_KEY = r"(?P<key>[0-9a-f]{64})"
NODE_ID = r"(?P<node_id>[0-9a-f]{64})"
urlpatterns = [
    path("", views.network, name="network"),
    path("live/", views.network_live, name="network-live"),
    path("seeds/", views.seed_add, name="seed-add"),
    path("seeds/<int:pk>/remove/", views.seed_remove, name="seed-remove"),
    re_path(rf"^books/{BOOK_KEY}/follow/$", views.book_follow, name="book-follow"),
    re_path(rf"^books/{BOOK_KEY}/unfollow/$", views.book_unfollow, name="book-unfollow"),
    path("bans/", views.node_ban, name="ban"),
    re_path(rf"^bans/{NODE_ID}/lift/$", views.node_ban_lift, name="ban-lift"),
]
