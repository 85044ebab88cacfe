"""Staff and borrowers hear of applications as they move: when Wanjiru applies, Amina and Juma
are notified with a link to her application, and the queue counts on their open dashboard are
marked to be read again; Wanjiru hears of the decision with a link to her own loan page."""

from __future__ import annotations

from django.urls import reverse

from apps.applications import services
from apps.identity.models import Notification

QUEUES = '<ul class="queues" id="loan-queues" aria-label="Queues" data-live-refresh="application">'


def test_kijanis_staff_hear_of_a_new_application_with_a_link_to_it(
    apply, goats, wanjiru, amina, juma, otieno
):
    loan = apply(wanjiru, goats)

    for person in (amina, juma):
        [news] = Notification.objects.filter(user=person, kind="application")
        assert news.text == f"New application {loan.reference} for {goats.name}."
        assert news.link == reverse("loans:detail", args=[loan.pk])
    assert not Notification.objects.filter(user__in=[wanjiru, otieno]).exists()


def test_wanjiru_hears_of_the_approval_with_a_link_to_her_loan(apply, goats, wanjiru, juma):
    loan = apply(wanjiru, goats)

    services.application_approve(actor=juma, loan=loan)

    [news] = Notification.objects.filter(user=wanjiru)
    assert news.text == f"Your application {loan.reference} was approved"
    assert news.link == f"/borrow/loans/{loan.pk}/"


def test_the_queue_counts_are_marked_to_be_read_again_on_news_of_applications(client, juma):
    client.force_login(juma)

    for url in (reverse("staff:home"), reverse("loans:queue")):
        assert QUEUES in client.get(url).content.decode()
