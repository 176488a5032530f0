"""Calls and SMS through Twilio: placing and following calls, recordings, transcripts, texts and opt-outs."""
