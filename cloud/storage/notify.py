"""Storage of the notification outbox: notifications (one per key, ever) and their deliveries
per channel, with attempts and back-off. ``cloud.notify`` calls these."""

from __future__ import annotations

from cloud.storage.dialect import insert_ignore_sql
from cloud.storage.tx import Row, Tx


def add(c: Tx, key: str, kind: str, parking: str | None, sub: str | None, subject: str,
        body_json: str, at: str) -> int | None:
    """A new notification; its id, or None if one with *key* exists."""
    nid = c.execute(insert_ignore_sql("notifications", ("key", "kind", "parking", "sub",
                                                         "subject", "body", "created_at"))
                    + " RETURNING id", (key, kind, parking, sub, subject, body_json,
                                        at)).scalar()
    return None if nid is None else int(nid)


def add_delivery(c: Tx, notification: int, channel: str, recipient: str) -> None:
    """A delivery of a notification through one channel, pending."""
    c.execute("INSERT INTO deliveries(notification, channel, recipient) VALUES (?, ?, ?)",
              (notification, channel, recipient))


def last_mailed(c: Tx, kind: str, parking: str) -> str | None:
    """When a notification of *kind* about *parking* last had an e-mail delivery."""
    return c.execute("SELECT max(n.created_at) FROM notifications n JOIN deliveries d ON "
                     "d.notification = n.id WHERE n.kind = ? AND n.parking = ? AND "
                     "d.channel = 'email'", (kind, parking)).scalar()


def pending(c: Tx, due_at: str | None, limit: int = 200) -> list[Row]:
    """Pending deliveries with their notification (only those due at *due_at*, if given)."""
    due = " AND (d.next_at IS NULL OR d.next_at <= ?)" if due_at else ""
    return c.execute(
        "SELECT d.notification, d.channel, d.recipient, d.attempts, n.kind, n.subject, "
        "n.body, n.key FROM deliveries d JOIN notifications n ON n.id = d.notification "
        f"WHERE d.status = 'pending'{due} ORDER BY d.notification LIMIT ?",
        (due_at, limit) if due_at else (limit,)).fetchall()


def failed(c: Tx, notification: int, channel: str, error: str, next_at: str) -> None:
    """A delivery its channel refused: tried again after *next_at*."""
    c.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_at = ? "
              "WHERE notification = ? AND channel = ?", (error, next_at, notification, channel))


def sent(c: Tx, notification: int, channel: str, at: str) -> None:
    """A delivery done."""
    c.execute("UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
              "last_error = NULL WHERE notification = ? AND channel = ?",
              (at, notification, channel))


def pending_count(c: Tx) -> int:
    """Deliveries still waiting for their channel."""
    return int(c.execute("SELECT count(*) FROM deliveries WHERE status = 'pending'").scalar())
