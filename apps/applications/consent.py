"""The consent a borrower gives when applying; each wording has a version, recorded with it."""

CONSENT_TEXTS = {
    "2026-11": (
        "I apply for this loan and ask the originator to assess it. I agree that the originator "
        "keeps the credential claims I present with this application, my application and the "
        "messages about it, to decide on it and, if it is granted, to manage the loan. I "
        "understand that the loan's amounts, dates and repayments (never my name or other "
        "personal data) are published in the originator's public loan book, and that closing "
        "the loan adds a repayment history credential to my credit record."
    ),
}
CONSENT_VERSION = "2026-11"
CONSENT_TEXT = CONSENT_TEXTS[CONSENT_VERSION]
