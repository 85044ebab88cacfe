"""Daily loan housekeeping: arrears and reminders (beat)."""

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def loans_arrears_update_task() -> int:
    return services.loans_arrears_update()


@shared_task(ignore_result=True)
def reminders_send_task() -> int:
    return services.reminders_send()
