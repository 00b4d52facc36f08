"""Captures from anywhere (tests/linktypes/README.md): every link type, tunnel and proxy capture of
this folder decodes to what tshark sees, and to the same Socket.IO events as the Ethernet capture
whose packets it re-wraps."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from analyzer.cli import main as cli_main
from analyzer.pipeline import analyze_file
from tests.linktypes import make_captures
from tests.linktypes.proxies import FORMS, STEPS

HERE = Path(__file__).resolve().parent
SOURCE = make_captures.SOURCE
FILES = sorted({name for name, _lt, _make in make_captures.CAPTURES.values()} | set(FORMS) | set(STEPS))
# the captures holding the source's Socket.IO session packet for packet (the A-MSDU one merges
# packets, CONNECT leaves its tunnel opaque, USER0 holds nothing socketscope decodes)
SAME_EVENTS = [
    f for f in FILES if f not in ("ieee802_11-amsdu.pcap", "http-connect.pcap", "user0.pcap", *STEPS)
]
# tshark 4.0 has no PKTAP dissector for link type 149 (it reads it as USER2): it reads the same
# packets under 258. It stops after a PROXY v2 header, and its SOCKS dissector takes a request
# sent with the client's first HTTP bytes for the whole segment: there the same traffic without
# the handshake is its view of the application (the connections are still compared as they are)
TSHARK_APP_VIEW = {
    "pktap-user2.pcap": HERE / "pktap.pcap",
    "proxy-v2.pcap": SOURCE,
    "socks4.pcap": SOURCE,
    "socks4a.pcap": SOURCE,
    "socks5.pcap": SOURCE,
    "socks5-auth.pcap": SOURCE,
}


def test_the_captures_are_what_the_script_writes() -> None:
    assert make_captures.main(["--check"]) == 0
    for f in FILES:
        assert (HERE / f).stat().st_size < 64 << 10  # well under 1 MB each


def cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli_main(list(argv)) == 0
    return out.getvalue()


def after_table(text: str) -> list[str]:
    """The output after the header lines (capture, packets, layers, link) and the connection
    table (whose addresses, ports and byte counts change with a tunnel or a proxy)."""
    blocks = text.split("\n\n", 2)
    return blocks[2].splitlines() if len(blocks) > 2 else []


@pytest.mark.parametrize("name", SAME_EVENTS)
def test_same_events_as_the_ethernet_capture(name: str) -> None:
    want = after_table(cli("analyze", str(SOURCE), "--events", "--no-progress"))
    got = after_table(cli("analyze", str(HERE / name), "--events", "--no-progress"))
    assert "Socket.IO events" in want
    assert got == want


# -- tshark --------------------------------------------------------------------------------


def tshark_fields(tshark: str, path: Path, *fields: str, where: str) -> list[list[str]]:
    cmd = [tshark, "-n", "-r", str(path), "-Y", where, "-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def tshark_view(tshark: str, path: Path) -> dict[str, Any]:
    """TCP connections (the innermost addresses: the Source and Destination columns show the
    tunnelled packet's), HTTP requests, WebSocket frames; lists where a packet has several."""
    conns, requests, frames = set(), [], []
    fields = ("frame.number", "_ws.col.Source", "_ws.col.Destination", "tcp.srcport", "tcp.dstport")
    fields += ("http.request.method", "http.request.uri", "websocket.opcode", "websocket.payload_length")
    for row in tshark_fields(tshark, path, *fields, where="tcp"):
        frame, src, dst, sports, dports, methods, uris, ops, lengths = row
        for sport, dport in zip(sports.split(","), dports.split(","), strict=True):
            conns.add(frozenset({(src, int(sport)), (dst, int(dport))}))
        if methods:
            requests += [(int(frame), m, u) for m, u in zip(methods.split(","), uris.split(","), strict=True)]
        if ops:
            frames += [
                (int(frame), int(o), int(n)) for o, n in zip(ops.split(","), lengths.split(","), strict=True)
            ]
    return {"connections": conns, "requests": requests, "frames": frames}


def our_view(path: Path) -> dict[str, Any]:
    a = analyze_file(str(path))
    conns = {
        frozenset({(c.client["ip"], c.client["port"]), (c.server["ip"], c.server["port"])})
        for c in a.connections
    }
    requests = [
        (x.request.frame, x.request.method, x.request.target)
        for c in a.connections
        for x in c.http
        if x.request is not None
    ]
    # tshark's websocket.payload_length is the 7-bit field (126 and 127 name the longer forms)
    frames = [
        (f.frame, f.opcode, min(f.payload_length, 126) if f.payload_length < 1 << 16 else 127)
        for c in a.connections
        if c.websocket
        for f in c.websocket.frames
    ]
    return {"connections": conns, "requests": sorted(requests), "frames": sorted(frames)}


@pytest.mark.tshark
@pytest.mark.parametrize("name", FILES)
def test_agrees_with_tshark(name: str, tshark: str) -> None:
    ours = our_view(HERE / name)
    theirs = tshark_view(tshark, HERE / name)
    assert ours["connections"] == theirs["connections"]
    app = tshark_view(tshark, TSHARK_APP_VIEW[name]) if name in TSHARK_APP_VIEW else theirs
    if name == "http-connect.pcap":
        # socketscope leaves the tunnel after CONNECT opaque (tshark goes on into it): the
        # CONNECT request is the same
        assert ours["requests"] == app["requests"][:1] == [(4, "CONNECT", "app.example:18002")]
        assert ours["frames"] == []
        return
    if name == "user0.pcap":
        assert ours == theirs == {"connections": set(), "requests": [], "frames": []}
        return
    assert ours["requests"] == sorted(app["requests"]) and ours["requests"]
    assert ours["frames"] == sorted(app["frames"]) and ours["frames"]


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(STEPS))
def test_socks_target_agrees_with_tshark(name: str, tshark: str) -> None:
    """The SOCKS handshake sent message by message, as tshark's SOCKS dissector follows it."""
    fields = ("socks.remote_name", "socks.v4a_dns_name", "socks.dstport", "socks.port", "socks.username")
    seen: dict[str, str] = {}
    for row in tshark_fields(tshark, HERE / name, *fields, where="socks"):
        for f, v in zip(fields, row, strict=True):
            if v:
                seen.setdefault(f, v)
    proxy = document(name)["connections"][0]["proxy"]
    host = seen.get("socks.remote_name") or seen.get("socks.v4a_dns_name")
    port = int(seen.get("socks.dstport") or seen["socks.port"])
    assert proxy["target"] == {"host": host, "port": port}
    assert proxy["user"] == seen["socks.username"] == "alice"
    assert proxy["complete"] and proxy["reply"] in ("granted", "succeeded")


# -- what the document and the summary say ---------------------------------------------------


def document(name: str) -> dict[str, Any]:
    return json.loads(cli("analyze", str(HERE / name), "--format", "json", "--no-progress"))


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("vxlan.pcap", ["ethernet", "ipv4", "vxlan", "ethernet"]),
        ("gre-vxlan.pcap", ["ethernet", "ipv4", "gre", "ipv4", "vxlan", "ethernet"]),
        ("geneve.pcap", ["ethernet", "ipv4", "geneve", "ethernet"]),
        ("erspan3.pcap", ["ethernet", "ipv4", "gre", "erspan", "ethernet"]),
        ("gtpu.pcap", ["ethernet", "ipv4", "gtp-u"]),
        ("6in4.pcap", ["ethernet", "ipv4"]),
        ("ip4in6.pcap", ["ethernet", "ipv6"]),
        ("qinq.pcap", ["ethernet", "qinq", "vlan"]),
        ("mpls.pcap", ["ethernet", "mpls"]),
        ("pppoe.pcap", ["ethernet", "pppoe", "ppp"]),
        ("radiotap.pcap", ["radiotap", "ieee802.11", "llc"]),
        ("ieee802_11-amsdu.pcap", ["ieee802.11", "a-msdu", "llc"]),
        ("nflog.pcap", ["nflog"]),
        ("c_hdlc.pcap", ["cisco-hdlc"]),
        ("pktap-user2.pcap", ["pktap", "null"]),
    ],
)
def test_encapsulation_is_shown(name: str, path: list[str]) -> None:
    doc = document(name)
    assert [c["encapsulation"] for c in doc["connections"]] == [path]
    assert doc["layer_stats"]["encapsulations"] == [{"path": path, "tcp_packets": 68}]


def test_plain_ethernet_adds_nothing() -> None:
    doc = json.loads(cli("analyze", str(SOURCE), "--format", "json", "--no-progress"))
    assert "encapsulation" not in doc["connections"][0] and "proxy" not in doc["connections"][0]
    assert "encapsulations" not in doc["layer_stats"] and "not_decoded" not in doc["layer_stats"]


def test_pktap_names_the_process() -> None:
    for name in ("pktap.pcap", "pktap-user2.pcap"):
        assert document(name)["connections"][0]["process"] == {"name": "python3.11", "pid": 4242}
    assert "127.0.0.1:39452 (python3.11 4242)" in cli("analyze", str(HERE / "pktap.pcap"), "--no-progress")


def test_encrypted_wifi_and_unknown_link_types_are_named() -> None:
    text = cli("analyze", str(HERE / "radiotap.pcap"), "--no-progress")
    assert "Skipped   encrypted Wi-Fi frames (not decrypted): 3 packets not decoded\n" in text
    assert "Link      radiotap > ieee802.11 > llc: 68 TCP packets\n" in text
    text = cli("analyze", str(HERE / "user0.pcap"), "--no-progress")
    assert "Skipped   link type 147 (USER0): 12 packets not decoded\n" in text
    doc = document("user0.pcap")
    assert doc["layer_stats"]["not_decoded"] == [{"what": "link type 147 (USER0)", "packets": 12}]
    assert [a["message"] for a in doc["anomalies"] if a["code"] == "link.unsupported"] == [
        "12 packets of link types socketscope does not decode (link type 147 (USER0): 12)"
    ]


@pytest.mark.parametrize(
    ("name", "proxy"),
    [
        (
            "socks4.pcap",
            {"protocol": "socks4", "user": "alice", "target": {"host": "127.0.0.1", "port": 18002}},
        ),
        (
            "socks4a.pcap",
            {"protocol": "socks4a", "user": "alice", "target": {"host": "app.example", "port": 18002}},
        ),
        (
            "socks5.pcap",
            {"protocol": "socks5", "auth": "none", "target": {"host": "app.example", "port": 18002}},
        ),
        (
            "socks5-auth.pcap",
            {"protocol": "socks5", "auth": "username/password", "user": "alice", "reply": "succeeded"},
        ),
        ("proxy-v1.pcap", {"protocol": "proxy-v1", "original_client": {"ip": "192.0.2.10", "port": 51000}}),
        (
            "proxy-v2.pcap",
            {
                "protocol": "proxy-v2",
                "command": "proxy",
                "authority": "app.example",
                "original_client": {"ip": "192.0.2.10", "port": 51000},
                "original_server": {"ip": "127.0.0.1", "port": 18002},
            },
        ),
    ],
)
def test_proxy_is_shown(name: str, proxy: dict[str, Any]) -> None:
    conn = document(name)["connections"][0]
    assert conn["proxy"] | proxy == conn["proxy"] and conn["proxy"]["complete"]
    assert conn["app_protocol"] == "websocket"
    assert f"websocket via {proxy['protocol']}" in cli("analyze", str(HERE / name), "--no-progress")


def test_socks5_password_is_never_shown(tmp_path: Path) -> None:
    path = str(HERE / "socks5-auth.pcap")
    outputs = [cli("analyze", path, "--format", "json", "--no-progress")]
    outputs.append(cli("analyze", path, "--messages", "--events", "--anomalies", "--no-progress"))
    for fmt in ("har", "jsonl", "csv"):
        out = tmp_path / fmt
        cli("export", path, "--format", fmt, "-o", str(out))
        files = out.iterdir() if out.is_dir() else [out]
        outputs += [f.read_text() for f in files]
    for text in outputs:
        assert "s3cr3t" not in text and "73336372337" not in text  # nor its hex


def test_http_connect_is_an_exchange() -> None:
    conn = document("http-connect.pcap")["connections"][0]
    req, resp = conn["http"][0]["request"], conn["http"][0]["response"]
    assert (req["method"], req["target"], resp["status"]) == ("CONNECT", "app.example:18002", 200)
    assert "proxy" not in conn


def test_ethernet_fcs_and_padding_decode() -> None:
    """pcap's FCS bits in the link-type field (draft-ietf-opsawg-pcap §4) and pcapng's if_fcslen:
    the FCS and the padding after the IP packet are not TCP payload."""
    for name in ("ether-fcs.pcap", "ether-fcs.pcapng"):
        doc = document(name)
        assert doc["capture"]["link_types"] == ["EN10MB"]
        assert doc["connections"][0]["tcp"]["payload_bytes"] == {"c2s": 1049, "s2c": 1066}
        assert doc["layer_stats"]["tcp_packets"] == 68


@pytest.mark.parametrize("name", FILES)
def test_documents_match_the_schema(name: str) -> None:
    import jsonschema

    schema = json.loads((HERE.parents[1] / "analyzer" / "schema" / "analysis.schema.json").read_text())
    jsonschema.validate(document(name), schema)
