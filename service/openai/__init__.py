"""The one OpenAI client module: the official SDK's async client behind a small interface."""

from service.openai.client import Message, OpenAIClient, Transcript, Usage

__all__ = ["Message", "OpenAIClient", "Transcript", "Usage"]
