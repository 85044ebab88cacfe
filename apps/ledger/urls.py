from django.urls import path, re_path

from . import views

app_name = "ledger"
urlpatterns = [
    path("", views.books, name="books"),
    path("following/", views.following, name="following"),
    path("following/add/", views.follow_add, name="follow-add"),
    re_path(
        r"^following/(?P<pk>[0-9]+)/(?P<action>pause|resume|pull|unfollow)/$",
        views.follow_change,
        name="follow-change",
    ),
    path("<str:book>/verify/", views.book_verify, name="verify"),
]
