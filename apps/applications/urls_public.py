"""Public agreement pages (under /agreements/): verifying a signed agreement file."""

from django.urls import path

from . import views_public

app_name = "agreements"

urlpatterns = [
    path("verify/", views_public.verify, name="verify"),
]
