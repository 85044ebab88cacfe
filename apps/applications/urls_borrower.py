from django.urls import path  # noqa: F401

app_name = "borrower_loans"

urlpatterns: list = []
