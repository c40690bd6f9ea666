"""UHFReader18: the driver and the simulator, each against the vectors in PROTOCOLS.md."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.drivers import uhf18
from hardware_sim import uhf_codec

VECTORS = [
    ("inventory", 0x01, b"", "04 00 01 DB 4B"),
    ("reader info", 0x21, b"", "04 00 21 D9 6A"),
    ("get work mode", 0x36, b"", "04 00 36 E7 0E"),
    ("set scan time 1 s", 0x25, b"\x0a", "05 00 25 0A A7 9F"),
    ("work mode frame", 0x35, b"\x00", "05 00 35 00 6C A5"),
]
EPC = "E2801160600002040000AB01"


@pytest.mark.parametrize(("name", "cmd", "data", "hexframe"), VECTORS, ids=[v[0] for v in VECTORS])
def test_driver_encodes_vectors(name, cmd, data, hexframe):
    assert uhf18.encode_command(cmd, data) == bytes.fromhex(hexframe)


@pytest.mark.parametrize(("name", "cmd", "data", "hexframe"), VECTORS, ids=[v[0] for v in VECTORS])
def test_both_crcs_check_vectors(name, cmd, data, hexframe):
    frame = bytes.fromhex(hexframe)
    assert uhf18.crc16(frame) == 0
    assert uhf_codec.crc(frame[:-2]) == frame[-2:]


@pytest.mark.parametrize(("name", "cmd", "data", "hexframe"), VECTORS, ids=[v[0] for v in VECTORS])
def test_simulator_parses_vectors(name, cmd, data, hexframe):
    parser = uhf_codec.CommandParser()
    assert parser.feed(bytes.fromhex(hexframe)) == [(0x00, cmd, data)]


def test_scan_push_frame_layout_and_decode():
    frame = uhf_codec.scan_push(EPC)
    assert frame[0] == len(frame) - 1 == 5 + 12
    assert frame[1:4] == b"\x00\xee\x00"
    assert frame[4:-2].hex().upper() == EPC
    (reply,) = uhf18.StreamDecoder().feed(frame, 0.0)
    assert isinstance(reply, uhf18.Reply)
    assert reply.cmd == uhf18.RECMD_SCAN_PUSH and reply.epcs() == [EPC]


def test_inventory_replies():
    two = uhf_codec.inventory_reply([EPC, "3000AABB"])
    (r,) = uhf18.StreamDecoder().feed(two, 0.0)
    assert r.status == 0x01 and r.epcs() == [EPC, "3000AABB"]
    (none,) = uhf18.StreamDecoder().feed(uhf_codec.inventory_reply([]), 0.0)
    assert none.status == 0xFB and none.epcs() == []


def test_bad_crc_is_rejected_never_trusted():
    frame = bytearray(uhf_codec.scan_push(EPC))
    frame[6] ^= 0x01
    out = uhf18.StreamDecoder().feed(bytes(frame), 0.0)
    assert not [x for x in out if isinstance(x, uhf18.Reply)]
    assert any(isinstance(x, uhf18.Rejected) and x.reason == "bad_crc" for x in out)


def test_long_junk_length_does_not_hold_good_frames_back():
    good = uhf_codec.scan_push(EPC)
    out = uhf18.StreamDecoder().feed(b"\xe2" + good, 0.0)  # 0xE2 claims a 227-byte frame
    assert [x.epcs() for x in out if isinstance(x, uhf18.Reply)] == [[EPC]]


def test_stale_partial_is_dropped_after_gap():
    d = uhf18.StreamDecoder(gap_s=0.05)
    assert d.feed(uhf_codec.scan_push(EPC)[:7], 0.0) == []
    assert d.expire(0.01) == []
    out = d.expire(0.06)
    assert out and all(isinstance(x, uhf18.Rejected) for x in out) and d.pending == 0


epcs = st.binary(min_size=2, max_size=16).filter(lambda b: len(b) % 2 == 0).map(
    lambda b: b.hex().upper())


def test_garbage_that_passes_the_crc_does_not_swallow_a_real_frame():
    """Found by hypothesis: five garbage bytes plus the head of a real frame pass the CRC as an
    'inventory reply' with an unknown status. Such a frame is implausible and skipped."""
    real = uhf_codec.scan_push("000000000000000000000000")
    swallowed = bytes.fromhex("077f011da7") + real[:3]
    assert uhf18.crc16(swallowed) == 0 and not uhf18.plausible(swallowed)
    d = uhf18.StreamDecoder()
    out = d.feed(bytes.fromhex("077f011da7") + real, 0.0)
    assert [e for x in out if isinstance(x, uhf18.Reply) for e in x.epcs()] == [
        "000000000000000000000000"]
    assert any(isinstance(x, uhf18.Rejected) and x.reason == "implausible" for x in out)


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(epcs, min_size=1, max_size=8),
       garbage=st.lists(st.binary(min_size=0, max_size=12), min_size=9, max_size=9),
       cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=12))
def test_resync_recovers_every_good_frame(tags, garbage, cuts):
    """Garbage between frames and arbitrary splits never lose or invent a good frame."""
    stream = b"".join(garbage[i] + uhf_codec.scan_push(t) for i, t in enumerate(tags))
    stream += garbage[-1]
    chunks, i = [], 0
    for c in cuts:
        chunks.append(stream[i:i + c])
        i += c
    chunks.append(stream[i:])
    d = uhf18.StreamDecoder()
    got: list[str] = []
    t = 0.0
    for ch in chunks:
        got += [e for x in d.feed(ch, t) if isinstance(x, uhf18.Reply) for e in x.epcs()]
        t += 0.001
    got += [e for x in d.expire(t + 1) if isinstance(x, uhf18.Reply) for e in x.epcs()]
    # Garbage could by chance form a CRC-valid frame; it then shows up as an extra read,
    # but every real tag must be there, in order.
    it = iter(got)
    assert all(any(g == want for g in it) for want in tags)


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(epcs, min_size=2, max_size=8), data=st.data())
def test_corrupted_frames_are_dropped_and_neighbours_kept(tags, data):
    frames = [bytearray(uhf_codec.scan_push(t)) for t in tags]
    bad = data.draw(st.sets(st.integers(0, len(tags) - 1), max_size=len(tags) - 1))
    for i in bad:
        pos = data.draw(st.integers(1, len(frames[i]) - 1))
        frames[i][pos] ^= data.draw(st.integers(1, 255))
    d = uhf18.StreamDecoder()
    out = d.feed(b"".join(bytes(f) for f in frames), 0.0) + d.expire(1.0)
    got = [e for x in out if isinstance(x, uhf18.Reply) for e in x.epcs()]
    want = [t for i, t in enumerate(tags) if i not in bad]
    it = iter(got)
    assert all(any(g == w for g in it) for w in want)
    assert sum(isinstance(x, uhf18.Rejected) for x in out) >= (1 if bad else 0)


@given(st.binary(max_size=300))
def test_the_fast_crc_is_the_datasheets(data):
    assert uhf18.crc16(data) == uhf18.crc16_bitwise(data)


def test_noise_costs_a_bounded_number_of_checks_per_byte(monkeypatch):
    """Decoding cost is proportional to bytes: pure noise fed in small chunks (as a serial
    line delivers it) is checked at most twice per byte, never rescanned."""
    import random

    calls = {"n": 0}
    real = uhf18._checks

    def counting(frame: bytes) -> bool:
        calls["n"] += 1
        return real(frame)

    monkeypatch.setattr(uhf18, "_checks", counting)
    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(30_000))
    d = uhf18.StreamDecoder()
    out = []
    for i in range(0, len(noise), 3):
        out += d.feed(noise[i : i + 3], i / 5760)
    assert calls["n"] <= 2 * len(noise)
    assert d.pending <= 256  # nothing piles up
    rejected = sum(len(r.raw) for r in out if isinstance(r, uhf18.Rejected)
                   and r.reason == "garbage")
    assert rejected >= len(noise) - 2000  # skipped bytes are reported as they go
