//! `admin client`: the OpenID provider's registered clients (docs/design/oidc-clients.md).

use std::path::PathBuf;

use clap::Subcommand;
use portcullis_core::admin::{ClientView, IssuedClientView};
use portcullis_core::oidc::{ClientPatch, ClientSpec};
use portcullis_core::use_cases::ClientScope;
use portcullis_core::{ClientKind, GrantType, IdTokenAlg, TokenEndpointAuth};
use serde_json::{Map, Value, json};

use super::*;

#[derive(Debug, Subcommand)]
#[command(
    after_help = "CLIENT is a client id. Clients declared in [[core.oidc.clients]] of the \
                        configuration file change only there (disable and enable work)."
)]
pub enum ClientCommand {
    /// Register a client. A client that authenticates with a secret gets one, printed once.
    Create {
        /// confidential (a server that keeps a secret) or public (a native or browser app).
        #[arg(long)]
        kind: ClientKind,
        /// [default: generated]
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        fields: ClientFields,
    },
    /// List clients.
    List {
        /// Only this org's clients (id or name).
        #[arg(long)]
        org: Option<String>,
    },
    /// Show a client with its latest back-channel logout deliveries.
    Show { client: String },
    /// Change a client: each option given replaces that setting.
    Update {
        client: String,
        #[command(flatten)]
        fields: ClientFields,
        #[arg(long, conflicts_with = "jwks_file")]
        clear_jwks: bool,
        #[arg(long, conflicts_with = "post_logout_redirect_uri")]
        clear_post_logout_redirect_uris: bool,
        #[arg(long, conflicts_with = "backchannel_logout_uri")]
        clear_backchannel_logout_uri: bool,
        /// Make it a global client (no org).
        #[arg(long, conflicts_with = "org")]
        no_org: bool,
    },
    /// Issue a new secret (printed once); the old ones keep working for
    /// core.oidc.secret_rotation_grace_secs.
    RotateSecret { client: String },
    /// Disable a client: it gets no new tokens and its tokens stop on every server.
    Disable { client: String },
    /// Enable a disabled client.
    Enable { client: String },
    /// Delete a client with its secrets, grants and consents.
    Delete { client: String },
    /// Set the roles of a client-credentials client's service account in its org (replaces
    /// them; no --role removes every role).
    Roles {
        client: String,
        /// ADMIN, AUTHOR, JOBCREATOR, EXECUTOR or PARSABLE_ADMIN (repeat for more).
        #[arg(long)]
        role: Vec<String>,
    },
    /// Mint an initial access token for dynamic registration (core.oidc.registration.mode =
    /// "initial_token"); printed once.
    InitialToken {
        /// How long it works: seconds, or a number with s, m, h or d (e.g. 7d) [default: never
        /// expires].
        #[arg(long, value_parser = parse_duration_secs)]
        expires: Option<i64>,
        /// How many clients it may register [default: any number].
        #[arg(long)]
        uses: Option<i64>,
        /// A note on whom it is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List initial access tokens (never the tokens themselves).
    InitialTokens,
    /// Revoke an initial access token (clients it registered stay).
    RevokeInitialToken { id: String },
}

/// `3600`, `90s`, `30m`, `12h` or `7d`, in seconds.
fn parse_duration_secs(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 3600, 30m, 12h or 7d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(unit_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

fn initial_token_line(t: &portcullis_core::admin::InitialTokenView) -> String {
    let mut line = format!("{}  {:?}  uses={}", t.id, t.label, t.uses);
    if let Some(m) = t.max_uses {
        line += &format!("/{m}");
    }
    if let Some(e) = t.expires_at {
        line += &format!("  expires={e}");
    }
    if t.revoked_at.is_some() {
        line += "  revoked";
    } else if !t.usable {
        line += "  unusable";
    }
    line
}

/// The settings `create` and `update` share. Lists replace the whole list.
#[derive(Debug, Args)]
pub struct ClientFields {
    /// Shown to users on the consent screen (required by create).
    #[arg(long)]
    name: Option<String>,
    /// client_secret_basic, client_secret_post, private_key_jwt or none.
    #[arg(long)]
    auth_method: Option<TokenEndpointAuth>,
    /// A JSON file with the client's public keys (JWK Set), for private_key_jwt.
    #[arg(long, value_name = "PATH")]
    jwks_file: Option<PathBuf>,
    /// An exact redirect URI (repeat for more).
    #[arg(long, value_name = "URI")]
    redirect_uri: Vec<String>,
    /// A URI the client may be sent to after logout (repeat for more).
    #[arg(long, value_name = "URI")]
    post_logout_redirect_uri: Vec<String>,
    /// authorization_code, refresh_token, client_credentials,
    /// urn:ietf:params:oauth:grant-type:device_code or
    /// urn:ietf:params:oauth:grant-type:token-exchange (repeat for several).
    #[arg(long)]
    grant_type: Vec<GrantType>,
    /// A scope the client may ask for (repeat; openid is required).
    #[arg(long)]
    scope: Vec<String>,
    /// The org (id or name) the client belongs to.
    #[arg(long)]
    org: Option<String>,
    /// Skip the consent screen.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    first_party: Option<bool>,
    /// RS256, ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<IdTokenAlg>,
    #[arg(long)]
    access_token_secs: Option<i64>,
    #[arg(long)]
    refresh_token_secs: Option<i64>,
    /// May ask for offline_access.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_offline: Option<bool>,
    /// May introspect every token (a resource server).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    introspect_any: Option<bool>,
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// An audience the client may exchange tokens for (RFC 8693; repeat for more).
    #[arg(long, value_name = "AUDIENCE")]
    token_exchange_audience: Vec<String>,
}

impl ClientFields {
    /// The given settings as spec fields (camelCase JSON).
    async fn to_json(&self, admin: &Admin) -> anyhow::Result<Map<String, Value>> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        if let Some(v) = &self.name {
            put("name", json!(v));
        }
        if let Some(v) = self.auth_method {
            put("tokenEndpointAuthMethod", json!(v));
        }
        if let Some(path) = &self.jwks_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let jwks: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            put("jwks", jwks);
        }
        if !self.redirect_uri.is_empty() {
            put("redirectUris", json!(self.redirect_uri));
        }
        if !self.post_logout_redirect_uri.is_empty() {
            put(
                "postLogoutRedirectUris",
                json!(self.post_logout_redirect_uri),
            );
        }
        if !self.grant_type.is_empty() {
            put("grantTypes", json!(self.grant_type));
        }
        if !self.scope.is_empty() {
            put("scopes", json!(self.scope));
        }
        if let Some(org) = &self.org {
            put("orgId", json!(admin.find_org(org).await?.id));
        }
        for (k, v) in [
            ("firstParty", self.first_party),
            ("allowOffline", self.allow_offline),
            ("introspectAny", self.introspect_any),
        ] {
            if let Some(v) = v {
                put(k, json!(v));
            }
        }
        if let Some(v) = self.id_token_alg {
            put("idTokenAlg", json!(v));
        }
        if let Some(v) = self.access_token_secs {
            put("accessTokenSecs", json!(v));
        }
        if let Some(v) = self.refresh_token_secs {
            put("refreshTokenSecs", json!(v));
        }
        if let Some(v) = &self.backchannel_logout_uri {
            put("backchannelLogoutUri", json!(v));
        }
        if !self.token_exchange_audience.is_empty() {
            put(
                "tokenExchangeAudiences",
                json!(self.token_exchange_audience),
            );
        }
        Ok(m)
    }
}

fn client_line(c: &ClientView) -> String {
    let s = &c.settings;
    let mut line = format!(
        "{}  {:?}  {}  {}",
        c.client_id(),
        s.name,
        s.kind,
        s.token_endpoint_auth
            .map_or_else(String::new, |a| a.to_string()),
    );
    if let Some(org) = s.org_id {
        line += &format!("  org={org}");
    }
    if c.declarative {
        line += "  declarative";
    }
    if c.disabled_at.is_some() {
        line += "  disabled";
    }
    if let Some(a) = &c.service_account {
        line += &format!("  service-account={} roles={}", a.id, a.roles.join(","));
    }
    line
}

/// The client line, and the new secret when there is one.
fn issued_text(verb: &str, c: &IssuedClientView) -> String {
    let mut s = format!("{verb} client {}", client_line(&c.client));
    if let Some(secret) = &c.client_secret {
        s += &format!("\nclient secret (shown only once): {}", secret.as_str());
    }
    s
}

pub(super) async fn client(admin: &Admin, json: bool, cmd: &ClientCommand) -> anyhow::Result<()> {
    let op = ClientScope::Operator;
    match cmd {
        ClientCommand::Create {
            kind,
            client_id,
            fields,
        } => {
            let mut m = fields.to_json(admin).await?;
            m.insert("kind".into(), json!(kind));
            if let Some(id) = client_id {
                m.insert("clientId".into(), json!(id));
            }
            if !m.contains_key("name") {
                bail!("--name is required");
            }
            let spec: ClientSpec = serde_json::from_value(Value::Object(m))?;
            let c = admin.create_client(op, spec).await?;
            emit(json, &c, || issued_text("created", &c))
        }
        ClientCommand::List { org } => {
            let scope = match org {
                Some(o) => ClientScope::Org(admin.find_org(o).await?.id),
                None => op,
            };
            let cs = admin.list_clients(scope).await?;
            emit(json, &cs, || {
                cs.iter().map(|c| client_line(c) + "\n").collect()
            })
        }
        ClientCommand::Show { client } => {
            let d = admin.show_client(op, client).await?;
            emit(json, &d, || {
                let s = &d.client.settings;
                let mut out = client_line(&d.client) + "\n";
                out += &format!("  redirect URIs: {}\n", s.redirect_uris.join(" "));
                for n in &d.logout_notices {
                    out += &format!(
                        "  logout notice {} attempts={} delivered={}\n",
                        n.created_at,
                        n.attempts,
                        n.delivered_at.is_some()
                    );
                }
                out
            })
        }
        ClientCommand::Update {
            client,
            fields,
            clear_jwks,
            clear_post_logout_redirect_uris,
            clear_backchannel_logout_uri,
            no_org,
        } => {
            let mut m = fields.to_json(admin).await?;
            for (flag, key, cleared) in [
                (*clear_jwks, "jwks", Value::Null),
                (
                    *clear_post_logout_redirect_uris,
                    "postLogoutRedirectUris",
                    json!([]),
                ),
                (
                    *clear_backchannel_logout_uri,
                    "backchannelLogoutUri",
                    Value::Null,
                ),
                (*no_org, "orgId", Value::Null),
            ] {
                if flag {
                    m.insert(key.into(), cleared);
                }
            }
            let c = admin.update_client(op, client, &ClientPatch(m)).await?;
            emit(json, &c, || issued_text("updated", &c))
        }
        ClientCommand::RotateSecret { client } => {
            let c = admin.rotate_client_secret(op, client).await?;
            emit(json, &c, || issued_text("new secret for", &c))
        }
        ClientCommand::Disable { client } => {
            let c = admin.set_client_disabled(op, client, true).await?;
            emit(json, &c, || format!("disabled client {}", client_line(&c)))
        }
        ClientCommand::Enable { client } => {
            let c = admin.set_client_disabled(op, client, false).await?;
            emit(json, &c, || format!("enabled client {}", client_line(&c)))
        }
        ClientCommand::Roles { client, role } => {
            let c = admin.set_client_roles(op, client, role).await?;
            emit(json, &c, || format!("roles set: {}", client_line(&c)))
        }
        ClientCommand::Delete { client } => {
            admin.delete_client(op, client).await?;
            emit(json, &json!({ "deleted": client }), || {
                format!("deleted client {client}")
            })
        }
        ClientCommand::InitialToken {
            expires,
            uses,
            label,
        } => {
            let t = admin.create_initial_token(label, *expires, *uses).await?;
            emit(json, &t, || {
                format!(
                    "initial access token {}\ntoken (shown only once): {}",
                    initial_token_line(&t.view),
                    t.token.as_str()
                )
            })
        }
        ClientCommand::InitialTokens => {
            let ts = admin.list_initial_tokens().await?;
            emit(json, &ts, || {
                ts.iter().map(|t| initial_token_line(t) + "\n").collect()
            })
        }
        ClientCommand::RevokeInitialToken { id } => {
            admin.revoke_initial_token(id).await?;
            emit(json, &json!({ "revoked": id }), || {
                format!("revoked initial access token {id}")
            })
        }
    }
}
