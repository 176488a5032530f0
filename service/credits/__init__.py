"""Credits held before a paid call to an outside service (Twilio, OpenAI), then charged or refunded."""
