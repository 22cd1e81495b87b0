//! A fake OpenID provider on loopback: discovery, JWKS, a token endpoint that enforces client
//! authentication, the redirect URI and PKCE, and EdDSA-signed ID tokens.

use super::*;

pub(crate) struct Grant {
    pub(crate) challenge: String,
    pub(crate) nonce: String,
    pub(crate) redirect_uri: String,
    pub(crate) sub: String,
    pub(crate) email: String,
}

pub(crate) struct FakeIdp {
    pub(crate) issuer: String,
    pub(crate) key: SigningKey,
    pub(crate) codes: Mutex<HashMap<String, Grant>>,
    /// Every token request: the form.
    pub(crate) token_requests: Mutex<Vec<HashMap<String, String>>>,
    /// When set, ID tokens carry this nonce instead of the requested one.
    pub(crate) nonce_override: Mutex<Option<String>>,
    /// When set, ID tokens carry this `amr`.
    pub(crate) amr: Mutex<Option<Vec<String>>>,
}

pub(crate) fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

impl FakeIdp {
    pub(crate) fn sign(&self, claims: Value) -> String {
        let input = format!(
            "{}.{}",
            b64(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"})),
            b64(&claims)
        );
        let sig = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    /// What the provider does once the user signed in: a code for the authorization request
    /// in `location` (Portcullis' redirect).
    pub(crate) fn authorize(
        &self,
        location: &str,
        sub: &str,
        email: &str,
    ) -> (String, HashMap<String, String>) {
        let q = query(location.split_once('?').map(|x| x.1).unwrap_or_default());
        let code = format!("code-{}", self.codes.lock().len() + 1);
        self.codes.lock().insert(
            code.clone(),
            Grant {
                challenge: q["code_challenge"].clone(),
                nonce: q["nonce"].clone(),
                redirect_uri: q["redirect_uri"].clone(),
                sub: sub.into(),
                email: email.into(),
            },
        );
        (code, q)
    }
}

pub(crate) fn query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), unescape(v)))
        .collect()
}

pub(crate) fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("3F");
                out.push(u8::from_str_radix(h, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_default()
}

pub(crate) async fn discovery(State(idp): State<Arc<FakeIdp>>) -> Json<Value> {
    let i = &idp.issuer;
    Json(json!({
        "issuer": i,
        "jwks_uri": format!("{i}/jwks"),
        "authorization_endpoint": format!("{i}/auth"),
        "token_endpoint": format!("{i}/token"),
    }))
}

pub(crate) async fn jwks(State(idp): State<Arc<FakeIdp>>) -> Json<Value> {
    let x = URL_SAFE_NO_PAD.encode(idp.key.verifying_key().to_bytes());
    Json(
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1", "alg": "EdDSA", "use": "sig"}]}),
    )
}

pub(crate) async fn token(
    State(idp): State<Arc<FakeIdp>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    idp.token_requests.lock().push(f.clone());
    let err = |s: StatusCode, e: &str| (s, Json(json!({"error": e}))).into_response();
    // client_secret_basic with form-encoded parts (RFC 6749 §2.3.1).
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:s3cret%3A+with+spaces"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&basic)
    {
        return err(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return err(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let Some(g) = idp.codes.lock().remove(&get("code")) else {
        return err(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if g.redirect_uri != get("redirect_uri") || pkce_challenge(&get("code_verifier")) != g.challenge
    {
        return err(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let now = chrono::Utc::now().timestamp();
    let nonce = idp.nonce_override.lock().clone().unwrap_or(g.nonce);
    let mut claims = json!({
        "iss": idp.issuer, "aud": CLIENT_ID, "sub": g.sub, "email": g.email,
        "email_verified": true, "iat": now, "exp": now + 300, "nonce": nonce,
    });
    if let Some(amr) = idp.amr.lock().clone() {
        claims["amr"] = json!(amr);
    }
    let id_token = idp.sign(claims);
    Json(json!({"access_token": "opaque", "token_type": "Bearer", "id_token": id_token}))
        .into_response()
}

pub(crate) async fn start_idp() -> Arc<FakeIdp> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let idp = Arc::new(FakeIdp {
        issuer: format!("http://{addr}"),
        key: SigningKey::from_bytes(&[7u8; 32]),
        codes: Mutex::new(HashMap::new()),
        token_requests: Mutex::new(Vec::new()),
        nonce_override: Mutex::new(None),
        amr: Mutex::new(None),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    idp
}
