"""`--jobs N` on a capture with few client addresses: which process decodes which connection.

Sharing connections out one by one (`split.flow_hash`) puts the polling and WebSocket legs of an
Engine.IO session in different processes, so their session layer has to be replayed in the
parent. Before the processes start, `share_groups` reads the capture once, cheaply (no
reassembly: each packet's addresses and ports, and its bytes searched for an Engine.IO sid), and
puts together the connections that carry the same sid: the `sid=` of a request's query (EIO v4
'Sending and receiving data', 'Upgrade') or the `"sid":"..."` of an open packet (EIO v4
'Handshake'). Groups are dealt out to the processes, the largest first, each to the one with the
least bytes so far, so that the shares are even.

This is only a guess of the sessions (a sid cut between two packets, or one the search does not
recognise, is missed); whether a session did stay in one process is checked afterwards
(pipeline/shards.py `_exact`), and when one did not, the capture is read again by one process.
"""

from __future__ import annotations

import re

from analyzer.capture.pcapfile import open_capture
from analyzer.decode.packet import PacketDecoder

__all__ = ["Endpoint", "FlowKey", "flow_key", "share_groups"]

Endpoint = tuple[bytes, int]  # IP address, TCP port
FlowKey = tuple[Endpoint, Endpoint]  # the two endpoints, sorted (the client may not be known yet)

# an Engine.IO sid in a query (`sid=`) or in an open packet's JSON (`"sid":"`); sids are short
# base64url-like tokens (engine.io: 20 characters; python-engineio: 20 to 32)
_SID = re.compile(rb'(?:[?&]sid=|"sid":")([A-Za-z0-9_.~+/=-]{1,64})')
_PACKET_COST = 200  # what a packet costs a share on top of its bytes, in bytes (measured: roughly)
# flows (each direction) and sids remembered: past either the capture is shared out connection by
# connection, as without any sid (memory stays bounded whatever the capture holds: ~40 MB)
MAX_FLOWS = 200_000


def flow_key(a: Endpoint, b: Endpoint) -> FlowKey:
    return (a, b) if a <= b else (b, a)


class _Union:
    """Union-find over connections and sids."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, x: object) -> object:
        parent = self.parent
        root = x
        while (up := parent.get(root, root)) != root:
            root = up
        while x != root:  # path compression
            up = parent[x]
            parent[x] = root
            x = up
        return root

    def join(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def share_groups(path: str, jobs: int, first_packets: int = 20_000) -> tuple[dict[FlowKey, int], bool, bool]:
    """Each connection's process (0 to jobs-1); whether any sid was seen (without one, the groups
    say nothing about sessions: the caller shares connections out the old way); whether the
    first packets show clients enough (4 per process) to share connections out by client address
    instead (its TLS resumptions stay in one process, too). Past MAX_FLOWS flows: no groups."""
    # per direction: Ethernet II + IPv4 without options + TCP (RFC 791 §3.1) by the 12 bytes of
    # addresses and ports, the rest by their decoded endpoints
    sizes: dict[bytes | FlowKey, int] = {}
    union = _Union()
    found = False
    clients: set[bytes] = set()  # the sources of clients' SYNs (RFC 9293 §3.5) among the first packets
    decoder = PacketDecoder()
    reader = open_capture(path)
    try:
        for pkt in reader:
            data = pkt.data
            key: bytes | FlowKey
            if (
                pkt.linktype == 1
                and len(data) >= 54
                and data[14] == 0x45
                and data[12:14] == b"\x08\x00"
                and data[23] == 6
                and not (data[20] & 0x3F) | data[21]  # not a fragment
            ):
                key = data[26:38]
                if data[47] & 0x12 == 0x02 and pkt.frame <= first_packets:  # SYN without ACK
                    clients.add(data[26:30])
            else:
                seg = decoder.decode(pkt)
                if seg is None:
                    continue
                key = flow_key((seg.src, seg.sport), (seg.dst, seg.dport))
                if seg.flags & 0x12 == 0x02 and pkt.frame <= first_packets:
                    clients.add(seg.src)
            size = sizes.get(key)
            if size is None and len(sizes) >= MAX_FLOWS:
                return {}, False, len(clients) >= 4 * jobs
            sizes[key] = (size or 0) + len(data) + _PACKET_COST
            if b"sid" in data:
                for m in _SID.finditer(data):
                    if len(union.parent) >= 2 * MAX_FLOWS:
                        return {}, False, len(clients) >= 4 * jobs
                    found = True
                    union.join(key, m.group(1))
    finally:
        reader.close()
    flows: dict[FlowKey, int] = {}
    for key, size in sizes.items():
        if isinstance(key, bytes):  # both directions of a connection are one
            flow = flow_key((key[0:4], (key[8] << 8) | key[9]), (key[4:8], (key[10] << 8) | key[11]))
            union.join(key, flow)
        else:
            flow = key
        flows[flow] = flows.get(flow, 0) + size
    return _deal(flows, union, jobs), found, len(clients) >= 4 * jobs


def _deal(sizes: dict[FlowKey, int], union: _Union, jobs: int) -> dict[FlowKey, int]:
    """Groups to processes: the largest first, each to the least loaded (ties: the lowest)."""
    groups: dict[object, list[FlowKey]] = {}
    weight: dict[object, int] = {}
    for key, size in sizes.items():
        root = union.find(key)
        groups.setdefault(root, []).append(key)
        weight[root] = weight.get(root, 0) + size
    load = [0] * jobs
    out: dict[FlowKey, int] = {}
    for root in sorted(groups, key=lambda r: -weight[r]):  # stable: ties in the order first seen
        k = load.index(min(load))
        load[k] += weight[root]
        for key in groups[root]:
            out[key] = k
    return out
