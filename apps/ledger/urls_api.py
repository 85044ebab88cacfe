from django.urls import path

from . import api

urlpatterns = [
    path("books/", api.BookListApi.as_view(), name="api-books"),
    path("books/<str:key>/", api.BookDetailApi.as_view(), name="api-book"),
    path("books/<str:key>/blocks/", api.BlockRangeApi.as_view(), name="api-book-blocks"),
    path(
        "books/<str:key>/replication/",
        api.ReplicationRangeApi.as_view(),
        name="api-book-replication",
    ),
    path("books/<str:key>/head/", api.book_head_wait, name="api-book-head"),
    path("books/<str:key>/entry/", api.EntryApi.as_view(), name="api-book-entry"),
    path("books/<str:key>/history/", api.EntryHistoryApi.as_view(), name="api-book-history"),
]
