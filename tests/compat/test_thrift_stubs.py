"""The generated stubs encode exactly the bytes of the worked examples in PARSABLE.md §4 and §5.
Needs the `thrift` compiler, not the server."""
from thrift.protocol import TCompactProtocol, TJSONProtocol
from thrift.Thrift import TMessageType
from thrift.transport import TTransport


def encode_login(stubs, protocol_factory) -> bytes:
    buf = TTransport.TMemoryBuffer()
    proto = protocol_factory.getProtocol(buf)
    svc = stubs.AuthenticationService
    proto.writeMessageBegin("login", TMessageType.CALL, 0)
    args = svc.login_args(email="ann@example.com", password="pw",
                          options=stubs.authentication.ttypes.LoginOptions())
    args.write(proto)
    proto.writeMessageEnd()
    return buf.getvalue()


def test_compact_login_call_matches_spec(thrift_stubs):
    got = encode_login(thrift_stubs, TCompactProtocol.TCompactProtocolFactory())
    want = bytes.fromhex("822100056c6f67696e180f616e6e406578616d706c652e636f6d180270771c0000")
    assert got == want


def test_tjson_login_call_matches_spec(thrift_stubs):
    got = encode_login(thrift_stubs, TJSONProtocol.TJSONProtocolFactory())
    assert got.decode() == '[1,"login",1,0,{"1":{"str":"ann@example.com"},"2":{"str":"pw"},"3":{"rec":{}}}]'


def test_client_speaks_over_http_with_expected_headers(thrift_stubs):
    """Drive harness.clients.ThriftClient against a throwaway loopback HTTP endpoint that records the
    request and answers a canned compact logout reply (PARSABLE.md §4)."""
    import http.server
    import threading

    from harness.clients import MOTHERSHIP_COMPACT, ThriftClient

    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen["path"] = self.path
            seen["content_types"] = self.headers.get_all("Content-Type")
            seen["authorization"] = self.headers.get("Authorization")
            seen["idp"] = self.headers.get("Idp-Authorization")
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            reply = bytes.fromhex("824100066c6f676f757400")
            self.send_response(200)
            self.send_header("Content-Type", MOTHERSHIP_COMPACT)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *a):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/api/auth"
        with ThriftClient(thrift_stubs, url, protocol="compact", token="tok1", idp_token="idp1") as tc:
            assert tc.logout() is None
            assert tc.last_status == 200
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert seen["path"] == "/api/auth"
    assert seen["content_types"] == ["application/x-thrift", MOTHERSHIP_COMPACT]
    assert seen["authorization"] == "Token tok1"
    assert seen["idp"] == "Bearer idp1"
    assert seen["body"] == bytes.fromhex("822100066c6f676f757400")
