"""/api/chat: the Fastify plan's message routes (direct messages) and the rooms behind them.

Message lists are newest first, `limit` (100, max 1000) and `cursor` (the `X-Next-Cursor` of the previous page).
Rooms are named by id or, for imported team channels, by their Firestore name (`/api/chat/rooms/general`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import msgspec
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from service.chat import service
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
from service.web.ids import parse_id
from service.web.pagination import Keyset, decode_cursor, paginate, parse_limit

JSON = "application/json"
_encode = msgspec.json.Encoder().encode


async def page(
    request: Request, fetch: Callable[[Keyset | None, int], Awaitable[Sequence[asyncpg.Record]]]
) -> Response[bytes]:
    query = request.query_params
    limit = parse_limit(query.get("limit"))
    cursor = query.get("cursor")
    rows = await fetch(decode_cursor(cursor) if cursor else None, limit)
    rows, headers = paginate(rows, limit, request.scope["path"], query)
    return Response(_encode(service.messages_out(rows)), media_type=JSON, headers=headers)


def sent(message: MessageOut, created: bool) -> Response[MessageOut]:
    """201 for a new message, 200 when a retried send found the one it made before."""
    return Response(message, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


@get("/messages")
async def list_my_messages(request: Request) -> Response[bytes]:
    """Every message of my rooms (and imported direct messages to or from me), newest first."""
    pool, user = request.app.state.pool, request.user.id
    return await page(request, lambda after, limit: service.my_messages(pool, user, after, limit))


@get("/messages/unread/count")
async def unread_count(request: Request) -> Count:
    return Count(await service.unread_count(request.app.state.pool, request.user.id))


@get("/messages/{recipient_id:str}")
async def conversation(request: Request, recipient_id: FromPath[str]) -> Response[bytes]:
    """My direct conversation with one user, newest first (empty before the first message)."""
    pool, user, other = request.app.state.pool, request.user.id, parse_id(recipient_id, "User")
    return await page(request, lambda after, limit: service.conversation(pool, user, other, after, limit))


@post("/messages")
async def send_message(request: Request, data: JSONBody[DirectMessageIn]) -> Response[MessageOut]:
    """To `recipientId` (their direct room, made on first use) or into `roomId`; `clientId` makes retries safe."""
    recipient = data.recipient_id
    message, created = await service.send(
        request.app.state.pool,
        request.app.state.settings,
        request.user.id,
        data,
        room_key=data.room_id if recipient is None else None,
        recipient=recipient,
    )
    return sent(message, created)


@put("/messages/read/{sender_id:str}")
async def mark_read_from(request: Request, sender_id: FromPath[str]) -> Success:
    await service.mark_read_from(request.app.state.pool, request.user.id, parse_id(sender_id, "User"))
    return Success()


@patch("/messages/{message_id:str}")
async def edit_message(request: Request, message_id: FromPath[str], data: JSONBody[MessageEdit]) -> MessageOut:
    return await service.edit(request.app.state.pool, request.user.id, parse_id(message_id, "Message"), data.content)


@delete("/messages/{message_id:str}", status_code=HTTP_200_OK)
async def delete_message(request: Request, message_id: FromPath[str]) -> Success:
    """The sender only; the SPA reads the answer's JSON, so it is `{success: true}`, not 204."""
    await service.delete(request.app.state.pool, request.user.id, parse_id(message_id, "Message"))
    return Success()


@get("/rooms")
async def list_rooms(request: Request) -> list[RoomOut]:
    """My rooms, the most recently active first, each with its last message and my unread count."""
    return await service.rooms(request.app.state.pool, request.user.id)


@post("/rooms")
async def create_room(request: Request, data: JSONBody[RoomIn]) -> Response[RoomOut]:
    """201 for a new room; 200 when the direct room of the pair already exists."""
    room, created = await service.create_room(request.app.state.pool, request.user.id, data)
    return Response(room, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


@get("/rooms/{room:str}")
async def get_room(request: Request, room: FromPath[str]) -> RoomOut:
    return await service.room(request.app.state.pool, request.user.id, room)


@delete("/rooms/{room:str}", status_code=HTTP_200_OK)
async def delete_room(request: Request, room: FromPath[str]) -> Success:
    """Its owner (either person of a direct room) deletes it for everyone; it then answers 404."""
    await service.delete_room(request.app.state.pool, request.user.id, room)
    return Success()


@get("/rooms/{room:str}/members")
async def list_members(request: Request, room: FromPath[str]) -> list[MemberOut]:
    return await service.members(request.app.state.pool, request.user.id, room)


@post("/rooms/{room:str}/members", status_code=HTTP_200_OK)
async def add_members(request: Request, room: FromPath[str], data: JSONBody[MembersIn]) -> list[MemberOut]:
    return await service.add_members(request.app.state.pool, request.user.id, room, data.user_ids)


@get("/rooms/{room:str}/messages")
async def room_messages(request: Request, room: FromPath[str]) -> Response[bytes]:
    """Newest first from any point: `cursor` is the key of the last message seen (the page's `X-Next-Cursor`)."""
    pool, user = request.app.state.pool, request.user.id
    return await page(request, lambda after, limit: service.room_messages(pool, user, room, after, limit))


@post("/rooms/{room:str}/messages")
async def post_to_room(request: Request, room: FromPath[str], data: JSONBody[MessageIn]) -> Response[MessageOut]:
    message, created = await service.send(
        request.app.state.pool, request.app.state.settings, request.user.id, data, room_key=room
    )
    return sent(message, created)


@put("/rooms/{room:str}/read")
async def mark_room_read(request: Request, room: FromPath[str], data: JSONBody[ReadIn | None] = None) -> Success:
    """Up to `messageId` (inclusive), or to the newest message when the body is empty."""
    await service.mark_read(request.app.state.pool, request.user.id, room, data.message_id if data else None)
    return Success()


@post("/rooms/{room:str}/typing", status_code=HTTP_200_OK)
async def typing(request: Request, room: FromPath[str]) -> Success:
    """Tells the room's participants that I am typing (send it every few seconds while typing)."""
    await service.typing(request.app.state.pool, request.app.state.settings, request.user.id, room)
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
