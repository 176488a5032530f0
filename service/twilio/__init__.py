"""The one Twilio client module: the official SDK's async client behind a small interface."""

from service.twilio.client import CallResource, TwilioClient, TwilioError, TwilioNotConfigured, signature_is_valid

__all__ = ["CallResource", "TwilioClient", "TwilioError", "TwilioNotConfigured", "signature_is_valid"]
