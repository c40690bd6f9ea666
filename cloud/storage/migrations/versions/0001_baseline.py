"""The cloud's schema as of the last hand-written SQLite migration (009_vehicle_flat).

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

T, I = sa.Text, sa.Integer  # noqa: E741 (short names keep the tables readable)


def _c(name: str, type_: type, nullable: bool = True, **kw: object) -> sa.Column:
    return sa.Column(name, type_(), nullable=nullable, **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "sites", _c("id", T, primary_key=True), _c("name", T, False),
        _c("rules_version", I, False, server_default="0"), _c("created_at", T, False))
    op.create_table(
        "parkings", _c("id", T, primary_key=True),
        sa.Column("site", T(), sa.ForeignKey("sites.id"), nullable=False),
        _c("name", T, False), _c("address", T, False, server_default=""),
        _c("objects", T, False, server_default="[]"),
        _c("guard_phone", T, False, server_default=""),
        _c("refunds", I, False, server_default="0"),
        _c("offer_required", I, False, server_default="0"),
        _c("rules_text", T, False, server_default=""),
        _c("debt_rules", T, False, server_default=""), _c("external_id", T),
        _c("active", I, False, server_default="0"), _c("deleted_at", T),
        _c("created_at", T, False), _c("staff_email", T, False, server_default=""))
    op.create_table(
        "gates", sa.Column("site", T(), sa.ForeignKey("sites.id"), nullable=False),
        _c("id", T, False), _c("direction", T, False), _c("name", T, False, server_default=""),
        _c("command_key", T), sa.Column("parking", T(), sa.ForeignKey("parkings.id")),
        _c("external_id", T), sa.PrimaryKeyConstraint("site", "id"))
    op.create_table(
        "vehicles", sa.Column("site", T(), sa.ForeignKey("sites.id"), nullable=False),
        _c("vrn", T, False), _c("type", T, False), _c("created_at", T, False), _c("flat", T),
        sa.PrimaryKeyConstraint("site", "vrn"))
    op.create_table(
        "tags", _c("epc", T, primary_key=True),
        sa.Column("site", T(), sa.ForeignKey("sites.id"), nullable=False),
        _c("status", T, False), _c("vrn", T), _c("vehicle_type", T),
        _c("locked", I, False, server_default="0"), _c("locked_until", T),
        _c("updated_at", T, False))
    op.create_index("tags_site", "tags", ["site"])
    op.create_table(
        "rule_changes", _c("site", T, False), _c("version", I, False), _c("changes", T, False),
        _c("at", T, False), sa.PrimaryKeyConstraint("site", "version"))
    op.create_table(
        "events", _c("site", T, False), _c("id", T, False), _c("edge", T, False),
        _c("gate", T, False), sa.Column("seq", sa.BigInteger(), nullable=False),
        _c("type", T, False), _c("at", T, False), _c("data", T, False),
        _c("received_at", T, False), sa.PrimaryKeyConstraint("site", "id"))
    op.create_index("events_query", "events", ["site", "type", "at"])
    op.create_table(
        "edges", _c("id", T, primary_key=True), _c("availability", T, False),
        _c("at", T, False))
    op.create_table(
        "edge_gates", _c("site", T, False), _c("gate", T, False), _c("edge", T, False),
        _c("at", T, False), sa.PrimaryKeyConstraint("site", "gate"))
    op.create_table(
        "accounts", sa.Column("site", T(), sa.ForeignKey("sites.id"), nullable=False),
        _c("username", T, False), _c("role", T, False), _c("pw_hash", T, False),
        _c("created_at", T, False), sa.PrimaryKeyConstraint("site", "username"),
        sa.CheckConstraint("role IN ('guard', 'supervisor')", name="accounts_role"))
    op.create_table(
        "spaces", sa.Column("parking", T(), sa.ForeignKey("parkings.id"), nullable=False),
        _c("number", I, False), _c("size", T, False),
        _c("labels", T, False, server_default="[]"),
        _c("rentable", I, False, server_default="1"), _c("available_until", T),
        sa.PrimaryKeyConstraint("parking", "number"),
        sa.CheckConstraint("size IN ('small', 'medium', 'large')", name="spaces_size"))
    op.create_table(
        "tariffs", _c("id", I, primary_key=True, autoincrement=True),
        sa.Column("parking", T(), sa.ForeignKey("parkings.id"), nullable=False),
        _c("kind", T, False), _c("size", T), _c("unit", T, False), _c("name", T, False),
        _c("lower", I, False), _c("upper", I, False), _c("price", I, False),
        sa.CheckConstraint("kind IN ('space', 'camera')", name="tariffs_kind"),
        sa.CheckConstraint("unit IN ('daily', 'hourly')", name="tariffs_unit"))
    op.create_table(
        "subscriptions", _c("id", T, primary_key=True),
        sa.Column("parking", T(), sa.ForeignKey("parkings.id"), nullable=False),
        _c("space", I, False), _c("owner", T, False), _c("users", T, False, server_default="[]"),
        _c("unit", T, False), _c("units", I, False), _c("start", T, False), _c("end", T, False),
        _c("paid_through", T, False), _c("camera", I, False, server_default="0"),
        _c("amount", I, False), _c("paid_in_app", I, False, server_default="0"),
        _c("status", T, False), _c("prev", T), _c("hold_until", T), _c("refund", I),
        _c("created_at", T, False), _c("created_by", T, False))
    op.create_index("subscriptions_parking", "subscriptions", ["parking", "status"])
    op.create_index("subscriptions_created", "subscriptions", ["created_at"])
    op.create_index("subscriptions_prev", "subscriptions", ["prev"])
    op.create_table(
        "sub_vehicles",
        sa.Column("sub", T(), sa.ForeignKey("subscriptions.id"), nullable=False),
        _c("vrn", T, False), _c("type", T, False), _c("make", T, False, server_default=""),
        sa.PrimaryKeyConstraint("sub", "vrn"))
    op.create_index("sub_vehicles_vrn", "sub_vehicles", ["vrn"])
    op.create_table(
        "sub_payments", _c("id", I, primary_key=True, autoincrement=True),
        _c("sub", T, False), _c("kind", T, False), _c("amount", I, False), _c("at", T, False),
        _c("reference", T), _c("documents", T, False, server_default="[]"))
    op.create_table(
        "sub_history", _c("sub", T, False), _c("at", T, False), _c("what", T, False),
        _c("detail", T, False, server_default=""))
    op.create_index("sub_history_sub", "sub_history", ["sub"])
    op.create_table(
        "parking_presence", _c("parking", T, False), _c("vrn", T, False),
        _c("inside", I, False), _c("at", T, False), sa.PrimaryKeyConstraint("parking", "vrn"))
    op.create_table(
        "occupancy_log", _c("parking", T, False), _c("space", I, False), _c("vrn", T),
        _c("sub", T), _c("inside", I, False), _c("at", T, False), _c("source", T, False))
    op.create_table(
        "notifications", _c("id", I, primary_key=True, autoincrement=True),
        _c("key", T, False, unique=True), _c("kind", T, False), _c("parking", T),
        _c("sub", T), _c("subject", T, False), _c("body", T, False), _c("created_at", T, False))
    op.create_table(
        "deliveries",
        sa.Column("notification", I(), sa.ForeignKey("notifications.id"), nullable=False),
        _c("channel", T, False), _c("recipient", T, False),
        _c("status", T, False, server_default="pending"),
        _c("attempts", I, False, server_default="0"), _c("last_error", T), _c("sent_at", T),
        sa.PrimaryKeyConstraint("notification", "channel"))
    op.create_index("deliveries_pending", "deliveries", ["status"])
    op.create_table(
        "staff", _c("id", I, primary_key=True, autoincrement=True), _c("name", T, False),
        _c("roles", T, False), _c("resident", T), _c("created_at", T, False),
        _c("edge_sites", T))
    op.create_table(
        "api_keys", _c("digest", T, primary_key=True),
        sa.Column("staff", I(), sa.ForeignKey("staff.id"), nullable=False),
        _c("created_at", T, False), _c("revoked_at", T))
    op.create_table(
        "cameras", _c("id", I, primary_key=True, autoincrement=True),
        sa.Column("parking", T(), sa.ForeignKey("parkings.id"), nullable=False),
        _c("name", T, False), _c("url", T, False), _c("enabled", I, False, server_default="1"),
        _c("parking_camera", I, False, server_default="0"),
        _c("sort", I, False, server_default="0"), _c("spaces", T, False, server_default="[]"))
    op.create_table(
        "audit", _c("id", I, primary_key=True, autoincrement=True), _c("at", T, False),
        _c("staff", I), _c("name", T), _c("method", T, False), _c("path", T, False),
        _c("status", I, False), _c("note", T, False, server_default=""))


def downgrade() -> None:
    for table in ("audit", "cameras", "api_keys", "staff", "deliveries", "notifications",
                  "occupancy_log", "parking_presence", "sub_history", "sub_payments",
                  "sub_vehicles", "subscriptions", "tariffs", "spaces", "accounts", "edge_gates",
                  "edges", "events", "rule_changes", "tags", "vehicles", "gates", "parkings",
                  "sites"):
        op.drop_table(table)
