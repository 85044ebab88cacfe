from django.urls import path

from . import views

app_name = "ledger"
urlpatterns = [
    path("", views.books, name="books"),
    path("<str:book>/verify/", views.book_verify, name="verify"),
]
