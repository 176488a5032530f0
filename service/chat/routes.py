"""/api/chat: the Fastify plan's message routes (direct messages) and the rooms behind them.

Message lists are newest first, `limit` (100, max 1000) and `cursor` (the `X-Next-Cursor` of the previous page).
Rooms are named by id or, for imported team channels, by their Firestore name (`/api/chat/rooms/general`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.chat.schemas import (
    Count,
    DirectMessageIn,
    MemberOut,
    MembersIn,
    MessageEdit,
    MessageIn,
    MessageOut,
    ReadIn,
    RoomIn,
    RoomOut,
    Success,
)
from service.chat.service import ChatService, messages_out
from service.web.caller import AuthUser
from service.web.ids import parse_id
from service.web.lists import page_response
from service.web.openapi import documented
from service.web.pagination import Keyset, decode_cursor, parse_limit

_encode = msgspec.json.Encoder().encode
Chat = NamedDependency[ChatService]
SENT_BEFORE = "a retried send (same clientId) found the message it made before"
AuthRequest = Request[AuthUser, object, State]


def encode_messages(rows: Sequence[asyncpg.Record]) -> bytes:
    return _encode(messages_out(rows))


async def page(
    request: AuthRequest, fetch: Callable[[Keyset | None, int], Awaitable[Sequence[asyncpg.Record]]]
) -> Response[bytes]:
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    cursor = query.get("cursor")
    rows = await fetch(decode_cursor(cursor) if cursor else None, limit)
    return page_response(request, rows, limit, encode_messages)


def sent(message: MessageOut, created: bool) -> Response[MessageOut]:
    """201 for a new message, 200 when a retried send found the one it made before."""
    return Response(message, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


@documented(returns=list[MessageOut], paged=True)
@get("/messages")
async def list_my_messages(request: AuthRequest, chat: Chat) -> Response[bytes]:
    """Every message of my rooms (and imported direct messages to or from me), newest first."""
    user = request.user.id
    return await page(request, lambda after, limit: chat.my_messages(user, after, limit))


@get("/messages/unread/count")
async def unread_count(request: AuthRequest, chat: Chat) -> Count:
    return Count(await chat.unread_count(request.user.id))


@documented(returns=list[MessageOut], paged=True)
@get("/messages/{recipient_id:str}")
async def conversation(request: AuthRequest, chat: Chat, recipient_id: FromPath[str]) -> Response[bytes]:
    """My direct conversation with one user, newest first (empty before the first message)."""
    user, other = request.user.id, parse_id(recipient_id, "User")
    return await page(request, lambda after, limit: chat.conversation(user, other, after, limit))


@documented(extra_statuses={200: SENT_BEFORE}, errors=(404, 409, 429))
@post("/messages")
async def send_message(request: AuthRequest, chat: Chat, data: JSONBody[DirectMessageIn]) -> Response[MessageOut]:
    """To `recipientId` (their direct room, made on first use) or into `roomId`; `clientId` makes retries safe."""
    recipient = data.recipient_id
    message, created = await chat.send(
        request.user.id,
        data,
        room_key=data.room_id if recipient is None else None,
        recipient=recipient,
    )
    return sent(message, created)


@put("/messages/read/{sender_id:str}")
async def mark_read_from(request: AuthRequest, chat: Chat, sender_id: FromPath[str]) -> Success:
    await chat.mark_read_from(request.user.id, parse_id(sender_id, "User"))
    return Success()


@patch("/messages/{message_id:str}")
async def edit_message(
    request: AuthRequest, chat: Chat, message_id: FromPath[str], data: JSONBody[MessageEdit]
) -> MessageOut:
    return await chat.edit(request.user.id, parse_id(message_id, "Message"), data.content)


@delete("/messages/{message_id:str}", status_code=HTTP_200_OK)
async def delete_message(request: AuthRequest, chat: Chat, message_id: FromPath[str]) -> Success:
    """The sender only; the SPA reads the answer's JSON, so it is `{success: true}`, not 204."""
    await chat.delete(request.user.id, parse_id(message_id, "Message"))
    return Success()


@get("/rooms")
async def list_rooms(request: AuthRequest, chat: Chat) -> list[RoomOut]:
    """My rooms, the most recently active first, each with its last message and my unread count."""
    return await chat.rooms(request.user.id)


@documented(extra_statuses={200: "the direct room of the pair already exists"}, errors=(404,))
@post("/rooms")
async def create_room(request: AuthRequest, chat: Chat, data: JSONBody[RoomIn]) -> Response[RoomOut]:
    """201 for a new room; 200 when the direct room of the pair already exists."""
    room, created = await chat.create_room(request.user.id, data)
    return Response(room, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


@get("/rooms/{room:str}")
async def get_room(request: AuthRequest, chat: Chat, room: FromPath[str]) -> RoomOut:
    return await chat.room(request.user.id, room)


@delete("/rooms/{room:str}", status_code=HTTP_200_OK)
async def delete_room(request: AuthRequest, chat: Chat, room: FromPath[str]) -> Success:
    """Its owner (either person of a direct room) deletes it for everyone; it then answers 404."""
    await chat.delete_room(request.user.id, room)
    return Success()


@get("/rooms/{room:str}/members")
async def list_members(request: AuthRequest, chat: Chat, room: FromPath[str]) -> list[MemberOut]:
    return await chat.members(request.user.id, room)


@documented(errors=(404,))
@post("/rooms/{room:str}/members", status_code=HTTP_200_OK)
async def add_members(
    request: AuthRequest, chat: Chat, room: FromPath[str], data: JSONBody[MembersIn]
) -> list[MemberOut]:
    return await chat.add_members(request.user.id, room, data.user_ids)


@documented(returns=list[MessageOut], paged=True)
@get("/rooms/{room:str}/messages")
async def room_messages(request: AuthRequest, chat: Chat, room: FromPath[str]) -> Response[bytes]:
    """Newest first from any point: `cursor` is the key of the last message seen (the page's `X-Next-Cursor`)."""
    user = request.user.id
    return await page(request, lambda after, limit: chat.room_messages(user, room, after, limit))


@documented(extra_statuses={200: SENT_BEFORE}, errors=(409, 429))
@post("/rooms/{room:str}/messages")
async def post_to_room(
    request: AuthRequest, chat: Chat, room: FromPath[str], data: JSONBody[MessageIn]
) -> Response[MessageOut]:
    message, created = await chat.send(request.user.id, data, room_key=room)
    return sent(message, created)


@put("/rooms/{room:str}/read")
async def mark_room_read(
    request: AuthRequest, chat: Chat, room: FromPath[str], data: JSONBody[ReadIn | None] = None
) -> Success:
    """Up to `messageId` (inclusive), or to the newest message when the body is empty."""
    await chat.mark_read(request.user.id, room, data.message_id if data else None)
    return Success()


@documented(errors=(429,))
@post("/rooms/{room:str}/typing", status_code=HTTP_200_OK)
async def typing(request: AuthRequest, chat: Chat, room: FromPath[str]) -> Success:
    """Tells the room's participants that I am typing (send it every few seconds while typing)."""
    await chat.typing(request.user.id, room)
    return Success()


router = Router(
    path="/api/chat",
    route_handlers=[
        list_my_messages,
        unread_count,
        conversation,
        send_message,
        mark_read_from,
        edit_message,
        delete_message,
        list_rooms,
        create_room,
        get_room,
        delete_room,
        list_members,
        add_members,
        room_messages,
        post_to_room,
        mark_room_read,
        typing,
    ],
    tags=["chat"],
)
